-- wrk script for GETs: counts answers by kind and nginx's micro-cache hits (X-Cache-Status).
-- Prints "BENCH ok=<2xx> s5xx=<n> other=<n> hits=<n>".
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local threads = require("threads")
setup = threads.setup

function init(args)
  ok, s5xx, other, hits = 0, 0, 0, 0
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  elseif status >= 500 then
    s5xx = s5xx + 1
  else
    other = other + 1
  end
  if headers["X-Cache-Status"] == "HIT" then
    hits = hits + 1
  end
end

function done(summary, latency, requests)
  threads.report({"ok", "s5xx", "other", "hits"})
end
