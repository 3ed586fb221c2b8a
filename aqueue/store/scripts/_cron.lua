-- Schedules (aqueue.cron): each in a hash aq:{Q}:cron:<name>, indexed by next tick in the
-- sorted set aq:{Q}:crons (+inf while paused or done). Needs the flow include.

local function cron_keys(K, name)
  local b = string.sub(K.job, 1, -5)
  return {hash = b .. "cron:" .. name, index = b .. "crons"}
end

-- Write one run of a schedule (id, npairs, pairs at ARGV[pos...]) unless a job with that
-- id exists. Returns the position after it, and whether it was written.
local function cron_write_job(K, queue, pos, now)
  local id, npairs = ARGV[pos], tonumber(ARGV[pos + 1])
  local first, last = pos + 2, pos + 1 + npairs * 2
  local key = K.job .. id
  if redis.call("EXISTS", key) == 1 then
    return last + 1, false
  end
  if ARGV[first] == "flow" then
    FLOW().enqueue(K, queue, id, key, "", 0, first, last, now)
  else
    redis.call("HSET", key, "status", "queued", "queue", queue, "enqueued_at", stamp(now),
      unpack(ARGV, first, last))
    redis.call("RPUSH", K.queued, id)
    mark_ready(K)
  end
  return last + 1, true
end
