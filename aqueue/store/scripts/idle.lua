-- Whether the queues have nothing left for a burst worker: nothing queued or started,
-- nothing scheduled within `horizon` seconds (by Redis's clock), and no ends of jobs left
-- to deliver to their dependents (the outbox: delivering them may release jobs).
-- ARGV: horizon. Returns 1 if idle, 0 if not.
-- uses: flow
local horizon = clock() + tonumber(ARGV[1])
for q = 0, queue_count() - 1 do
  local K = queue_keys(q)
  if redis.call("LLEN", K.queued) > 0 or redis.call("ZCARD", K.started) > 0
      or FLOW().queued(K) > 0 or redis.call("EXISTS", K.base .. "outbox") == 1 then
    return 0
  end
  if #redis.call("ZRANGEBYSCORE", K.scheduled, "-inf", horizon, "LIMIT", 0, 1) > 0 then
    return 0
  end
end
return 1
