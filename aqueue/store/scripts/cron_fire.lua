-- Enqueue the due runs of a schedule, exactly once however many workers try: the state
-- moves on only from the last tick the caller read (compare and set), and each run's id
-- is made from its tick, so a run already written is not written again.
-- ARGV: name, queue, fingerprint read, last tick read ("" none), new last tick, runs,
--   next tick ("" when the schedule is done), njobs, then per job: id, npairs, pairs...
-- Returns {1, ids written} or {0, "why"} when another worker was first (or it changed).
-- uses: flow, cron
local K = queue_keys(0)
local C = cron_keys(K, ARGV[1])
local now = clock()
local state = redis.call("HMGET", C.hash, "fingerprint", "last_tick", "paused")
if state[1] ~= ARGV[3] then
  return {0, "changed"}
end
if (state[2] or "") ~= ARGV[4] then
  return {0, "fired"}
end
if state[3] then
  return {0, "paused"}
end
local written = {}
local pos = 9
for _ = 1, tonumber(ARGV[8]) do
  local id = ARGV[pos]
  local wrote
  pos, wrote = cron_write_job(K, ARGV[2], pos, now)
  if wrote then
    written[#written + 1] = id
  end
end
redis.call("HSET", C.hash, "last_tick", ARGV[5], "runs", ARGV[6], "next_tick", ARGV[7])
if #written > 0 then
  redis.call("HSET", C.hash, "last_run_at", stamp(now), "last_job", written[#written])
end
redis.call("ZADD", C.index, ARGV[7] == "" and "+inf" or ARGV[7], ARGV[1])
return {1, written}
