-- Declare (or update) a schedule. A new one starts from now: no tick before it is owed.
-- A changed definition (another fingerprint) keeps its state (last tick, runs, pause).
-- ARGV: name, fingerprint, start (a Unix time; "": Redis's time), then field/value pairs of
-- the definition.
-- Returns "new", "changed" or "same".
-- uses: flow, cron
local K = queue_keys(0)
local C = cron_keys(K, ARGV[1])
local now = ARGV[3] ~= "" and tonumber(ARGV[3]) or clock()
local current = redis.call("HMGET", C.hash, "fingerprint", "paused")
if current[1] == ARGV[2] then
  return "same"
end
redis.call("HSET", C.hash, "name", ARGV[1], "fingerprint", ARGV[2], unpack(ARGV, 4))
if not current[1] then
  redis.call("HSET", C.hash, "last_tick", stamp(now), "runs", 0, "created_at", stamp(now))
end
if not current[2] then
  redis.call("ZADD", C.index, now, ARGV[1]) -- due now: a worker works out its next tick
end
return current[1] and "changed" or "new"
