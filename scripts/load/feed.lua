-- wrk script for POST /feed/data (scripts/load.sh): every request carries one record for each of
-- `servers` servers (load0001 ...), all at one timestamp that no other request uses (1 s apart,
-- threads interleaved), so every record is new to the store: no request is answered from
-- deduplication. The body is built once per thread; each request writes its timestamp in.
--   wrk ... -s feed.lua http://host:port -- SERVERS FIRST_EPOCH_S KEY
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local template, first, n, stride = nil, 0, 0, 1
local placeholder = "TTTTTTTTTTTTTTTTTTTT"  -- as long as an ISO-8601 UTC second: 2026-12-04T20:00:00Z

function init(args)
  local servers, key = tonumber(args[1]), args[3]
  first = tonumber(args[2])
  stride = tonumber(args[4] or "2")  -- wrk threads
  local records = {}
  for s = 1, servers do
    local busy = 20 + (s * 7) % 50
    records[s] = string.format(
      '{"timestamp":"%s","server_name":"load%04d","status":"healthy","cpu_user_pct":%d,"cpu_sys_pct":5,' ..
      '"cpu_iowait_pct":1,"cpu_idle_pct":%d,"java_cpu_pct":10,"mem_used_pct":%d,"swap_used_pct":0,' ..
      '"disk_usage_pct":40,"net_in_mb_s":1.5,"net_out_mb_s":0.7,"back_close_wait":2,"front_close_wait":1,' ..
      '"load_average":1.2,"uptime_days":30}', placeholder, s, busy - 6, 100 - busy, 40 + s % 40)
  end
  template = '{"records":[' .. table.concat(records, ",") .. ']}'
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = key
end

function request()
  local ts = os.date("!%Y-%m-%dT%H:%M:%SZ", first + n * stride + id)
  n = n + 1
  return wrk.format(nil, "/feed/data", nil, (template:gsub(placeholder, ts)))
end
