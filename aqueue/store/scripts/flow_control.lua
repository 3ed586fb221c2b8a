-- Pause, resume and set the limits of one queue, for every worker at once (aqueue.flow).
-- ARGV: "pause" | "resume" | "get" | "limits" followed by field/value pairs
--   (rate, period, conc, krate, kperiod, kconc; an empty value removes the field).
-- Returns the queue's flow settings after the change: {field, value, ...}.
-- uses: flow
local K = queue_keys(0)
local FK = FLOW().keys(K)
local action = ARGV[1]
if action == "pause" then
  redis.call("HSET", FK.flow, "paused", "1")
  redis.call("DEL", K.marker)
elseif action == "resume" then
  redis.call("HDEL", FK.flow, "paused")
  mark_ready(K)
elseif action == "limits" then
  for i = 2, #ARGV, 2 do
    if ARGV[i + 1] == "" then
      redis.call("HDEL", FK.flow, ARGV[i])
    else
      redis.call("HSET", FK.flow, ARGV[i], ARGV[i + 1])
    end
  end
  -- keys that a changed limit held back go back in the rotation (claims check them again)
  for _, k in ipairs(redis.call("SMEMBERS", FK.gkeys)) do
    FLOW().enter(FK, k)
  end
  mark_ready(K)
end
return redis.call("HGETALL", FK.flow)
