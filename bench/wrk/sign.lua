-- wrk script: POST /petitions/<id>/sign, each request as another signed-in user.
-- args: petition id, sessions file ("cookie token" per line), duplicate rate (0..1), thread count.
-- With probability `dup` a request reuses a session this thread already sent (an "already
-- signed" answer). Prints "BENCH acked=<303 answers> new_sent=<distinct sessions> wrapped=<n>".
local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[4])
  local path = "/petitions/" .. args[1] .. "/sign"
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Referer"] = "https://" .. wrk.host .. ":" .. wrk.port .. "/petitions/" .. args[1],
    ["X-Forwarded-Proto"] = "https",
    ["User-Agent"] = "bench",
  }
  dup = tonumber(args[3])
  -- Every request is formatted here, before wrk starts its clock: formatting one per request
  -- would cost the load generator CPU the server under test shares.
  requests = {}
  local i = 0
  for line in io.lines(args[2]) do
    if i % nthreads == thread_index then
      local cookie, token = line:match("(%S+) (%S+)")
      headers["Cookie"] = "session=" .. cookie
      table.insert(requests, wrk.format("POST", path, headers, "csrf_token=" .. token))
    end
    i = i + 1
  end
  next_new, acked, wrapped = 1, 0, 0
  math.randomseed(thread_index + 1)
end

function request()
  local n
  if next_new > 1 and math.random() < dup then
    n = math.random(1, next_new - 1)
  else
    n = next_new
    next_new = next_new + 1
  end
  if n > #requests then
    wrapped = wrapped + 1
    n = ((n - 1) % #requests) + 1
  end
  return requests[n]
end

function response(status, headers, body)
  if status == 303 then
    acked = acked + 1
  end
end

function done(summary, latency, requests)
  local total_acked, total_new, total_wrapped = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_acked = total_acked + thread:get("acked")
    total_new = total_new + thread:get("next_new") - 1
    total_wrapped = total_wrapped + thread:get("wrapped")
  end
  io.write(string.format("BENCH acked=%d new_sent=%d wrapped=%d\n", total_acked, total_new, total_wrapped))
end
