-- wrk script: signatures as browsers send them, each request another signed-in person.
-- args: mode ("endpoint": POST /api/petitions/<id>/signatures with the page's bearer token, no
-- cookie, as sign.js; "form": POST /petitions/<id>/sign with the session cookie and the page's
-- CSRF token, as the form without JavaScript), petition id, tokens file ("cookie sign_token
-- csrf_token" per line, read off the pages by pages.lua), duplicate rate (0..1), thread count,
-- output directory.
-- With probability `dup` a request repeats a person this thread already sent ("already signed").
-- Each thread stops, and writes <dir>/done-<i>, when every person in its share has signed; the
-- bench then ends the run, so a run's time is the time its people took.
-- Prints "BENCH new=<n> already=<n> s5xx=<n> other=<n>".
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local threads = require("threads")
setup = threads.setup

function init(args)
  mode = args[1]
  local petition = args[2]
  dup = tonumber(args[4])
  local nthreads = tonumber(args[5])
  outdir = args[6]
  local origin = "http://" .. wrk.host .. ":" .. wrk.port
  -- Every request is formatted here, before wrk starts its clock: formatting one per request
  -- would cost the load generator CPU the server under test shares.
  requests = {}
  local i = 0
  for line in io.lines(args[3]) do
    if i % nthreads == thread_index then
      local cookie, bearer, csrf = line:match("(%S+) (%S+) (%S+)")
      local headers = {["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) bench", ["Origin"] = origin}
      if mode == "endpoint" then
        headers["Authorization"] = "Bearer " .. bearer
        headers["Accept"] = "application/json"
        table.insert(requests, wrk.format("POST", "/api/petitions/" .. petition .. "/signatures", headers, ""))
      else
        headers["Cookie"] = "session=" .. cookie
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Referer"] = origin .. "/petitions/" .. petition
        table.insert(requests, wrk.format("POST", "/petitions/" .. petition .. "/sign", headers, "csrf_token=" .. csrf))
      end
    end
    i = i + 1
  end
  -- people sent so far; answers by kind
  sent, answered, new, already, s5xx, other = 0, 0, 0, 0, 0, 0
  math.randomseed(thread_index + 1)
end

function request()
  local n
  if sent > 0 and (sent >= #requests or math.random() < dup) then
    n = math.random(1, sent)  -- past its share, a thread only repeats people (never counted new)
  else
    sent = sent + 1
    n = sent
  end
  return requests[n]
end

function response(status, headers, body)
  answered = answered + 1
  if (mode == "endpoint" and status == 201) or (mode == "form" and status == 303 and headers["Location"]:find("signed=new", 1, true)) then
    new = new + 1
  elseif (mode == "endpoint" and status == 200) or (mode == "form" and status == 303) then
    already = already + 1
  elseif status >= 500 then
    s5xx = s5xx + 1
  else
    other = other + 1
  end
  if new == #requests and not finished then
    finished = true
    threads.finish(outdir)
  end
end

function done(summary, latency, requests)
  threads.report({"new", "already", "s5xx", "other"})
end
