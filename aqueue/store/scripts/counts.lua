-- How many jobs the queue holds in each state, and its totals, read at one instant.
-- Returns {queued, scheduled, started, failed, finished, retried, canceled, enqueued,
-- seconds the oldest queued job has waited (or false), Redis's time, expired, deferred}.
-- uses: flow
local K = queue_keys(0)
local now = clock()
local stats = redis.call("HMGET", K.stats, "finished", "retry", "canceled", "enqueued",
  "expired")
local oldest = false
local first = redis.call("LINDEX", K.queued, 0)
if first then
  local enqueued_at = tonumber(redis.call("HGET", K.job .. first, "enqueued_at"))
  if enqueued_at then
    oldest = stamp(math.max(0, now - enqueued_at))
  end
end
return {redis.call("LLEN", K.queued) + FLOW().queued(K), redis.call("ZCARD", K.scheduled),
  redis.call("ZCARD", K.started), redis.call("ZCARD", K.failed),
  tonumber(stats[1]) or 0, tonumber(stats[2]) or 0, tonumber(stats[3]) or 0,
  tonumber(stats[4]) or 0, oldest, stamp(now), tonumber(stats[5]) or 0,
  redis.call("ZCARD", K.base .. "deferred")}
