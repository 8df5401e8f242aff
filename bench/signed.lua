-- wrk script: send each pre-signed request of a pool once (see bench/signing.py).
--
--   BENCH_DELAY_MS=<ms> wrk ... -s bench/signed.lua <url> -- <pool file> <threads>
--
-- BENCH_DELAY_MS (optional): each connection waits that long before each request, to
-- hold a steady rate below the maximum (read at load, so every thread agrees).
--
-- Each thread takes every n-th line of the pool, so webhook-ids stay unique across
-- threads. A thread that runs out stops (the harness sizes the pool so that none does,
-- and fails the run if one did). Non-2xx answers are counted here: wrk itself counts
-- only statuses over 399. done() prints one line of JSON for the harness.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local pool, nthreads = args[1], tonumber(args[2])
  requests = {}
  sent, non2xx, exhausted, first_bad = 0, 0, 0, 0
  local n = 0
  for line in io.lines(pool) do
    if n % nthreads == id then
      local webhook_id, timestamp, signature, path, body =
        line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      if path == "" then
        path = nil -- the URL wrk was given
      end
      requests[#requests + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        ["webhook-id"] = webhook_id,
        ["webhook-timestamp"] = timestamp,
        ["webhook-signature"] = signature,
        -- Production sits behind a TLS proxy (SECURE_PROXY_SSL_HEADER).
        ["X-Forwarded-Proto"] = "https",
      }, body)
    end
    n = n + 1
  end
  pool_size = #requests
end

local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then
  function delay()
    return pause
  end
end

function request()
  sent = sent + 1
  if sent > pool_size then
    exhausted = exhausted + 1
    wrk.thread:stop()
    sent = pool_size
  end
  return requests[sent]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == 0 then
      first_bad = status
    end
  end
end

function done(summary, latency, _)
  local non2xx_total, exhausted_total, first_bad_status = 0, 0, 0
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + thread:get("non2xx")
    exhausted_total = exhausted_total + thread:get("exhausted")
    if first_bad_status == 0 then
      first_bad_status = thread:get("first_bad")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "first_bad_status": %d, '
      .. '"exhausted": %d, "socket_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, non2xx_total, first_bad_status, exhausted_total,
    e.connect + e.read + e.write, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
