-- wrk script for GETs: counts answers by kind and nginx's micro-cache hits (X-Cache-Status).
-- Prints "BENCH ok=<2xx> s5xx=<n> other=<n> hits=<n>".
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

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
  local t = {ok = 0, s5xx = 0, other = 0, hits = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do
      t[k] = t[k] + thread:get(k)
    end
  end
  io.write(string.format("BENCH ok=%d s5xx=%d other=%d hits=%d\n", t.ok, t.s5xx, t.other, t.hits))
end
