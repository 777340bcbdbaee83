-- wrk script: every signer loads the petition page signed in, as a browser does before signing.
-- args: petition id, people file (a line "<n> <session cookie>" per person registered as
-- "Bench Signer <n>"), thread count, output directory.
-- Each thread writes "<n> <signing token> <CSRF token> [<session cookie>]" per page it read to
-- <dir>/tokens-<i>, read off the page as sign.js and the form do (the cookie when the page set a
-- new one, as it does when it gives the session its first CSRF secret: a browser keeps it), and <dir>/done-<i> once each of its people has
-- a page (answers on many connections arrive in any order: the page's "Sign out (<name>)" says
-- whose it is).
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local threads = require("threads")
setup = threads.setup

function init(args)
  local path = "/petitions/" .. args[1]
  local nthreads = tonumber(args[3])
  outdir = args[4]
  requests = {}
  local i = 0
  for line in io.lines(args[2]) do
    if i % nthreads == thread_index then
      local _, cookie = line:match("(%S+) (%S+)")
      table.insert(requests, wrk.format("GET", path, {
        ["Cookie"] = "session=" .. cookie, ["Accept"] = "text/html",
        ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) bench"}))
    end
    i = i + 1
  end
  out = io.open(outdir .. "/tokens-" .. thread_index, "w")
  sent, read, failed, seen = 0, 0, 0, {}
end

function request()
  sent = sent + 1
  return requests[((sent - 1) % #requests) + 1]  -- past its share a thread re-reads pages
end

function response(status, headers, body)
  local who = body:match("Sign out %(Bench Signer (%d+)%)")
  local bearer = body:match('data%-sign%-token="([^"]+)"')
  local csrf = body:match('name="csrf_token" value="([^"]+)"')
  if status == 200 and who and bearer and csrf then
    if not seen[who] then
      seen[who] = true
      read = read + 1
      local cookie = (headers["Set-Cookie"] or ""):match("^session=([^;]+)")
      out:write(who, " ", bearer, " ", csrf, " ", cookie or "", "\n")
    end
  else
    failed = failed + 1
  end
  if read == #requests and not finished then
    finished = true
    out:close()
    threads.finish(outdir)
  end
end

function done(summary, latency, requests)
  threads.report({"failed"})
end
