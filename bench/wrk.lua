-- bench/wrk.lua: wrk script for bench/run.sh. With BENCH_BODY_BYTES=N every request is a POST
-- carrying N bytes; done() prints one machine-readable "BENCH key=value ..." line with the
-- request count, rate, p50/p99 latency (microseconds), socket errors and non-2xx/3xx responses.
local n = tonumber(os.getenv("BENCH_BODY_BYTES") or "0") or 0
if n > 0 then
  wrk.method = "POST"
  wrk.body = string.rep("b", n)
  wrk.headers["Content-Type"] = "application/octet-stream"
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rate=%.1f p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
