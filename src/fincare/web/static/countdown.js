/* Live countdowns: every <time data-due="ISO"> shows the time left, updated once a second.
 *
 * Past its due time it reads "-hh:mm:ss" in red and shows the "overdue" badge beside it; a paused
 * countdown (<time data-paused>, no data-due) stays still. The server's time (<meta name="fincare-now">)
 * corrects a browser clock that runs ahead or behind; <meta name="fincare-days"> is the day label
 * ("{n} d", "{n} 天"). The server renders the same text, so a page without this script still reads right.
 */
(function () {
  "use strict";

  function meta(name) {
    var element = document.querySelector('meta[name="' + name + '"]');
    return element ? element.getAttribute("content") : null;
  }

  var serverNow = Date.parse(meta("fincare-now") || "");
  var offset = isNaN(serverNow) ? 0 : serverNow - Date.now();
  var days = meta("fincare-days") || "{n} d";

  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function format(ms) {
    var total = Math.trunc(ms / 1000); // like the server: whole seconds, towards zero
    var sign = total < 0 ? "-" : "";
    total = Math.abs(total);
    var day = Math.floor(total / 86400);
    var hours = Math.floor((total % 86400) / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var text = two(hours) + ":" + two(minutes) + ":" + two(total % 60);
    return sign + (day ? days.replace("{n}", String(day)) + " " : "") + text;
  }

  function tick() {
    var now = Date.now() + offset;
    var items = document.querySelectorAll("time[data-due]");
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      var due = Date.parse(item.getAttribute("data-due"));
      if (isNaN(due) || item.hasAttribute("data-paused")) {
        continue;
      }
      var left = due - now;
      var late = left <= 0;
      item.textContent = format(left);
      item.classList.toggle("overdue", late);
      var badge = item.parentNode ? item.parentNode.querySelector(".overdue-badge") : null;
      if (badge) {
        badge.hidden = !late;
      }
    }
  }

  tick();
  window.setInterval(tick, 1000);
})();
