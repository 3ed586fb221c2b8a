-- Register (or refresh) a worker in the registry of the control slot, by Redis's clock,
-- and forget workers whose heartbeat expired.
-- KEYS: the workers sorted set, this worker's hash. ARGV: name, ttl, field, value...
-- Returns Redis's time.
local now = clock()
local ttl = tonumber(ARGV[2])
redis.call("HSET", KEYS[2], "heartbeat_at", stamp(now), unpack(ARGV, 3))
redis.call("EXPIRE", KEYS[2], ttl)
redis.call("ZADD", KEYS[1], now + ttl, ARGV[1])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
return stamp(now)
