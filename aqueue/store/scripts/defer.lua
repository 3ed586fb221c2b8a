-- Write a job that waits for its parents (depends_on): status "deferred", its pending
-- parents, until release.lua has heard from every one. Safe to send again (the nonce).
-- ARGV: id, explicit id (0/1), nonce, queue, inputs ("", "chain", "group"), nparents,
--   then per parent: "<queue> <id>", policy; then npairs, field/value pairs.
-- Returns {1 written / 0 sent before, Redis's time}; JOBEXISTS if the id is pending.
-- uses: index
local K = queue_keys(0)
local id, explicit, nonce, queue, inputs = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local nparents = tonumber(ARGV[6])
local now = clock()
local key = K.job .. id
local current = redis.call("HMGET", key, "status", "nonce")
if current[1] then
  if explicit == "0" or current[2] == nonce then
    return {0, stamp(now)}
  elseif current[1] ~= "finished" and current[1] ~= "failed" and current[1] ~= "canceled"
      and current[1] ~= "expired" then
    return redis.error_reply("JOBEXISTS job " .. id .. " is already " .. current[1])
  end
  redis.call("DEL", key)
  unregister_failure(K, id)
end
local parents = {}
local pos = 7
for i = 1, nparents do
  parents[#parents + 1] = ARGV[pos]
  parents[#parents + 1] = i .. " " .. ARGV[pos + 1]
  pos = pos + 2
end
local npairs = tonumber(ARGV[pos])
redis.call("HSET", key, "status", "deferred", "queue", queue, "enqueued_at", stamp(now),
  unpack(ARGV, pos + 1, pos + npairs * 2))
if inputs ~= "" then
  redis.call("HSET", key, "inputs", inputs, "inputs_n", nparents)
end
if explicit == "1" then
  redis.call("HSET", key, "nonce", nonce)
end
redis.call("DEL", key .. ":parents")
redis.call("HSET", key .. ":parents", unpack(parents))
redis.call("ZADD", K.base .. "deferred", now, id)
redis.call("HINCRBY", K.stats, "enqueued", 1)
local index = index_fields(K)  -- false unless the queue has a search index
if index then
  index_enqueued(K, index, id, now, pos + 1, pos + npairs * 2, explicit == "1")
end
return {1, stamp(now)}
