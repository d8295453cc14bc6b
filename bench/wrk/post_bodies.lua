-- Posts every line of $BODIES_FILE once, in order (one pre-signed body each, each with
-- its own mchRefundNo). Every answer is HTTP 200, so success is read from the body:
-- an answer without "resCode":"SUCCESS" counts as refused. If the file runs out the
-- walk wraps, and "wrapped" says so (repeats would be replays, not new refunds).
-- done() prints one JSON line that bench/run.py reads.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(os.getenv("BODIES_FILE")) do
    bodies[#bodies + 1] = line
  end
  counter = 0
  refused = 0
  wrapped = 0
  sample = ""
  hdrs = { ["Content-Type"] = "application/x-www-form-urlencoded" }
end

function request()
  counter = counter + 1
  if counter > #bodies then
    counter = 1
    wrapped = 1
  end
  return wrk.format("POST", "/v1/refund_order", hdrs, bodies[counter])
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"resCode":"SUCCESS"', 1, true) then
    refused = refused + 1
    if sample == "" then sample = string.sub(body, 1, 200) end
  end
end

function done(summary, latency, requests)
  local refused_total, wrapped_any, sample_any = 0, 0, ""
  for _, thread in ipairs(threads) do
    refused_total = refused_total + thread:get("refused")
    wrapped_any = math.max(wrapped_any, thread:get("wrapped"))
    if sample_any == "" then sample_any = thread:get("sample") end
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"max_us":%d,"errors":%d,"refused":%d,"wrapped":%d,"sample":"%s"}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, errors, refused_total, wrapped_any,
    (string.gsub(sample_any, '["\\]', "'"))))
end
