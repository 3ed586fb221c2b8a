-- Set fields of a job from the worker running it (meta, progress, a callback's error),
-- only while the job is still under the caller's claim: a job claimed again since, or
-- deleted, is not written (nor recreated).
-- ARGV: id, token, then per field: name, value, publish (1: also SPUBLISH the value on the
-- job's progress channel).
-- Returns 1 if written, 0 if not.
local K = queue_keys(0)
local key = K.job .. ARGV[1]
if redis.call("HGET", key, "token") ~= ARGV[2] then
  return 0
end
for i = 3, #ARGV, 3 do
  redis.call("HSET", key, ARGV[i], ARGV[i + 1])
  if ARGV[i + 2] == "1" then
    redis.call("SPUBLISH", key .. ":progress", ARGV[i + 1])
  end
end
return 1
