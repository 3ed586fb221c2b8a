-- Cancel a queued or scheduled job. ARGV: id.
-- Returns "canceled", the status that prevented it, or false if there is no such job.
-- uses: flow, deps
local K = queue_keys(0)
local id = ARGV[1]
local key = K.job .. id
local current = redis.call("HMGET", key, "status", "notify", "result_ttl", "deps")
local status = current[1]
if not status then
  return false
end
if status == "queued" then
  if redis.call("LREM", K.queued, 1, id) == 0 then
    FLOW().unqueue(K, id) -- waiting by priority or limit key
  end
elseif status == "scheduled" then
  redis.call("ZREM", K.scheduled, id)
elseif status == "deferred" then
  DEPS().undefer(K, id)
else
  return status
end
FLOW().canceled(K, id)
redis.call("HSET", key, "status", "canceled", "ended_at", stamp(clock()))
local ttl = tonumber(current[3]) or -1
if ttl >= 0 then
  redis.call("EXPIRE", key, math.max(ttl, 1))
end
notify_waiter(K, id, current[2])
redis.call("HINCRBY", K.stats, "canceled", 1)
remember(K.canceled, {id})
if current[4] then
  DEPS().ended(K, id, "canceled", false, "Canceled", "it was canceled")
end
return "canceled"
