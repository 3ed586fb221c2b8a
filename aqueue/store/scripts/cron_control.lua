-- Runtime control of schedules. ARGV: action, name.
--   "due": (no name) the names due now and the next tick, for a worker's cron plugin
--   "pause" / "resume" (ticks passed while paused are skipped) / "remove" / "ran" (a run
--   was triggered by hand; ARGV[3]: its job id)
-- Returns: "due" -> {Redis's time, {names}, next score or false}; others -> 1, or 0 if
-- there is no such schedule.
-- uses: flow, cron
local K = queue_keys(0)
local now = clock()
local action = ARGV[1]
if action == "due" then
  local index = cron_keys(K, "").index
  local due = redis.call("ZRANGEBYSCORE", index, "-inf", now, "LIMIT", 0, 100)
  local first = redis.call("ZRANGEBYSCORE", index, "(" .. now, "(+inf", "WITHSCORES", "LIMIT", 0, 1)
  return {stamp(now), due, first[2] or false}
end
local C = cron_keys(K, ARGV[2])
if redis.call("EXISTS", C.hash) == 0 then
  return 0
end
if action == "pause" then
  redis.call("HSET", C.hash, "paused", "1")
  redis.call("ZADD", C.index, "+inf", ARGV[2])
elseif action == "resume" then
  if redis.call("HDEL", C.hash, "paused") == 1 then
    redis.call("HSET", C.hash, "last_tick", stamp(now))
    redis.call("ZADD", C.index, now, ARGV[2])
  end
elseif action == "remove" then
  redis.call("DEL", C.hash)
  redis.call("ZREM", C.index, ARGV[2])
elseif action == "ran" then
  redis.call("HSET", C.hash, "last_run_at", stamp(now), "last_job", ARGV[3])
end
return 1
