/* The management dashboard's 12-month trends: one ECharts line per computed KPI, its target dashed.
   The data is embedded in the page (#dashboard-data); without ECharts the tables stay as they are. */
document.addEventListener("DOMContentLoaded", function () {
  var source = document.getElementById("dashboard-data");
  if (!source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var charts = [];
  data.charts.forEach(function (c) {
    var element = document.querySelector('[data-chart="' + c.key + '"]');
    if (!element) { return; }
    element.hidden = false;
    var chart = echarts.init(element);
    chart.setOption({
      animation: false,
      tooltip: {trigger: "axis"},
      grid: {left: 44, right: 16, top: 16, bottom: 28},
      xAxis: {type: "category", data: data.months, axisLabel: {fontSize: 10}},
      yAxis: c.unit === "ratio"
        ? {type: "value", min: 0, max: 100, axisLabel: {fontSize: 10, formatter: "{value}%"}}
        : {type: "value", min: 0, axisLabel: {fontSize: 10}},
      series: [{
        name: c.name, type: "line", data: c.values, connectNulls: false, showSymbol: true, symbolSize: 6,
        markLine: {symbol: "none", silent: true, lineStyle: {type: "dashed", color: "#b42318"},
                   label: {position: "insideEndTop", fontSize: 10}, data: [{yAxis: c.target}]}
      }]
    });
    charts.push(chart);
  });
  window.addEventListener("resize", function () { charts.forEach(function (chart) { chart.resize(); }); });
});
