-- Drop up to ARGV[1] queued jobs (ids and hashes), waking anyone waiting for them.
-- Returns how many were dropped.
-- uses: flow, deps
local K = queue_keys(0)
local ids = redis.call("LPOP", K.queued, tonumber(ARGV[1])) or FLOW().take_waiting(K, tonumber(ARGV[1]))
if not ids then
  redis.call("DEL", K.marker)
  return 0
end
for _, id in ipairs(ids) do
  local key = K.job .. id
  local current = redis.call("HMGET", key, "notify", "deps")
  notify_waiter(K, id, current[1])
  if current[2] then
    DEPS().ended(K, id, "deleted", false, "Deleted", "it was dropped by empty()")
  end
  redis.call("DEL", key)
end
return #ids
