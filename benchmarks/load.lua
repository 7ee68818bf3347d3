-- wrk script for benchmarks/load.py. Arguments after `--`: THREADS METHOD BODY [HEADER-NAME HEADER-VALUE]...
-- "{{n}}" in BODY becomes a number unique across threads and requests, so no request is a repeat a
-- server could deduplicate. done() prints one JSON line prefixed "WRK_JSON " for load.py to parse.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local method, template, has_placeholder
local counter, thread_count = 0, 1
non_2xx = 0  -- global: done() reads it from each thread with thread:get

function init(args)
  thread_count = tonumber(args[1])
  method = args[2]
  template = args[3] or ""
  has_placeholder = string.find(template, "{{n}}", 1, true) ~= nil
  for i = 4, #args - 1, 2 do
    wrk.headers[args[i]] = args[i + 1]
  end
end

function request()
  local body = nil
  if template ~= "" then
    body = template
    if has_placeholder then
      -- id + counter * threads is unique per request over the whole run
      local n = tostring(id + counter * thread_count)
      body = string.gsub(template, "{{n}}", n)
      counter = counter + 1
    end
  end
  return wrk.format(method, nil, nil, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non_2xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "non_2xx": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
