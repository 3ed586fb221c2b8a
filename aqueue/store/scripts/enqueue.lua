-- Enqueue one or many jobs of one queue, atomically.
-- ARGV: njobs, queue name, then per job the STRIDE values of aqueue.job.Job.enqueue_args():
--   id, due (0 = ready now), explicit id (0/1), func, args, kwargs, timeout, result_ttl,
--   failure_ttl, enqueued_at, retry (or ""), description (or "")
local STRIDE = 12
local K = queue_keys(0)
local njobs, queue = tonumber(ARGV[1]), ARGV[2]

for j = 0, njobs - 1 do
  local base = 3 + j * STRIDE
  if ARGV[base + 2] == "1" then
    local status = redis.call("HGET", K.job .. ARGV[base], "status")
    if status == "queued" or status == "scheduled" or status == "started" then
      return redis.error_reply("JOBEXISTS job " .. ARGV[base] .. " is already " .. status)
    end
  end
end

local ready = {}
local earliest = nil
for j = 0, njobs - 1 do
  local base = 3 + j * STRIDE
  local id, due = ARGV[base], tonumber(ARGV[base + 1])
  local key = K.job .. id
  if ARGV[base + 2] == "1" then
    -- replacing an ended job: forget it everywhere, including a stale waiter nudge
    redis.call("DEL", key, K.done .. id)
    redis.call("ZREM", K.failed, id)
  end
  local fields = {"func", ARGV[base + 3], "args", ARGV[base + 4], "kwargs", ARGV[base + 5],
    "timeout", ARGV[base + 6], "result_ttl", ARGV[base + 7], "failure_ttl", ARGV[base + 8],
    "enqueued_at", ARGV[base + 9], "queue", queue}
  if ARGV[base + 10] ~= "" then
    fields[#fields + 1] = "retry"
    fields[#fields + 1] = ARGV[base + 10]
  end
  if ARGV[base + 11] ~= "" then
    fields[#fields + 1] = "description"
    fields[#fields + 1] = ARGV[base + 11]
  end
  if due > 0 then
    redis.call("HSET", key, "status", "scheduled", "scheduled_for", ARGV[base + 1], unpack(fields))
    redis.call("ZADD", K.scheduled, due, id)
    if earliest == nil or due < earliest then
      earliest = due
    end
  else
    redis.call("HSET", key, "status", "queued", unpack(fields))
    ready[#ready + 1] = id
  end
end
if #ready > 0 then
  call_chunked("RPUSH", K.queued, ready)
  mark_ready(K)
end
if earliest then
  nudge_scheduler(K, earliest)
end
return njobs
