-- Sample the queue's counters into its history: once per minute and once per hour, by
-- Redis's clock, however many workers call it (the first call of a new minute writes).
-- ARGV: minutes kept, hours kept.
-- A sample is "<unix time of the minute> enqueued finished failed retry canceled queued
-- scheduled started failed_now" (totals since the queue began, then depths now).
-- Returns {1 if this call wrote the minute's sample else 0, Redis's time}.
local K = queue_keys(0)
local now = clock()

local function sample_into(key, period, keep)
  local at = math.floor(now / period) * period
  local last = redis.call("LINDEX", key, 0)
  local last_at = last and tonumber(string.match(last, "^%d+") or "")
  if last_at and last_at >= at then
    return 0
  end
  local s = redis.call("HMGET", K.stats, "enqueued", "finished", "failed", "retry", "canceled")
  local line = string.format("%d %d %d %d %d %d %d %d %d %d", at, tonumber(s[1]) or 0,
    tonumber(s[2]) or 0, tonumber(s[3]) or 0, tonumber(s[4]) or 0, tonumber(s[5]) or 0,
    redis.call("LLEN", K.queued), redis.call("ZCARD", K.scheduled),
    redis.call("ZCARD", K.started), redis.call("ZCARD", K.failed))
  redis.call("LPUSH", key, line)
  redis.call("LTRIM", key, 0, keep - 1)
  return 1
end

local wrote = sample_into(K.base .. "history:minute", 60, tonumber(ARGV[1]))
if wrote == 1 then
  sample_into(K.base .. "history:hour", 3600, tonumber(ARGV[2]))
end
return {wrote, stamp(now)}
