-- The live workers (heartbeat not expired), by Redis's clock.
-- KEYS: the workers sorted set. ARGV: prefix of the worker hashes.
-- Returns {Redis's time, {name, {field, value...}}...}.
local now = clock()
local out = {}
for _, name in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], now, "+inf")) do
  local fields = redis.call("HGETALL", ARGV[1] .. name)
  if #fields > 0 then
    out[#out + 1] = {name, fields}
  end
end
return {stamp(now), out}
