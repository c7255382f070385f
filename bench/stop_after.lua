-- wrk script: stop once STOP_AFTER (default 20000) responses came back
-- (bench/callgrind.sh: a fixed amount of work for instruction counts).
local limit = tonumber(os.getenv("STOP_AFTER") or "20000")
local n = 0

function response(status, headers, body)
  n = n + 1
  if n >= limit then
    wrk.thread:stop()
  end
end
