-- Register (or refresh) a worker in the registry of the control slot, by Redis's clock,
-- and forget workers whose heartbeat expired.
-- KEYS: the workers sorted set, this worker's hash, the live instances using its name.
-- ARGV: name, ttl, instance id, field, value...
-- Returns {Redis's time, how many live processes use this name}.
local now = clock()
local ttl = tonumber(ARGV[2])
redis.call("HSET", KEYS[2], "heartbeat_at", stamp(now), "instance", ARGV[3], unpack(ARGV, 4))
redis.call("EXPIRE", KEYS[2], ttl)
redis.call("ZADD", KEYS[1], now + ttl, ARGV[1])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
redis.call("ZADD", KEYS[3], now + ttl, ARGV[3])
redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", now)
redis.call("EXPIRE", KEYS[3], ttl)
return {stamp(now), redis.call("ZCARD", KEYS[3])}
