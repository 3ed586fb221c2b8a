-- How many jobs the queue holds in each state, read at one instant.
-- Returns {queued, scheduled, started, failed (not expired), finished, retry, Redis's time,
-- expired (not started in time)}.
-- uses: flow
local K = queue_keys(0)
local now = clock()
local stats = redis.call("HMGET", K.stats, "finished", "retry", "expired")
return {redis.call("LLEN", K.queued) + FLOW().queued(K), redis.call("ZCARD", K.scheduled),
  redis.call("ZCARD", K.started), redis.call("ZCOUNT", K.failed, "(" .. now, "+inf"),
  tonumber(stats[1]) or 0, tonumber(stats[2]) or 0, stamp(now), tonumber(stats[3]) or 0}
