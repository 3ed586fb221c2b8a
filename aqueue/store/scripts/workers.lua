-- The live workers (heartbeat not expired), by Redis's clock.
-- KEYS: the workers sorted set. ARGV: prefix of the worker hashes.
-- Returns {Redis's time, {name, {field, value...}, live processes using the name}...}.
local now = clock()
local out = {}
for _, name in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], now, "+inf")) do
  local key = ARGV[1] .. name
  local fields = redis.call("HGETALL", key)
  if #fields > 0 then
    out[#out + 1] = {name, fields, redis.call("ZCOUNT", key .. ":instances", now, "+inf")}
  end
end
return {stamp(now), out}
