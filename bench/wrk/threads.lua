-- What the bench's wrk scripts share: numbering wrk's threads, ending a thread's share of a run,
-- and the one summary line the bench parses. Each script loads it with
--   package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
--   local threads = require("threads")
local M = {}
local all = {}

-- wrk's setup(thread): gives each thread its index (0, 1, ...) as the global thread_index.
function M.setup(thread)
  thread:set("thread_index", #all)
  table.insert(all, thread)
end

-- Ends this thread and tells the bench through <outdir>/done-<thread_index> (bench/http.py's
-- run_wrk ends the run once every thread has).
function M.finish(outdir)
  io.open(outdir .. "/done-" .. thread_index, "w"):close()
  wrk.thread:stop()
end

-- Writes "BENCH name=<sum over threads> ..." for each of `names`, the threads' global counters.
function M.report(names)
  local parts = {}
  for _, name in ipairs(names) do
    local total = 0
    for _, thread in ipairs(all) do
      total = total + thread:get(name)
    end
    table.insert(parts, name .. "=" .. total)
  end
  io.write("BENCH ", table.concat(parts, " "), "\n")
end

return M
