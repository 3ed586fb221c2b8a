-- Cancel a queued, scheduled or running job. ARGV: id.
-- Returns "canceled", {"canceled", claim token} for a running job (its worker is told
-- next, apart: its outcome is recorded here, so that the worker's own ack is refused and
-- the reaper never sees it again), "is <status>" for a job that had ended, or false if
-- there is no such job.
-- uses: flow, flowgate, control, deps
local K = queue_keys(0)
local id = ARGV[1]
local key = K.job .. id
local current = redis.call("HMGET", key, "status", "notify", "result_ttl", "token", "flow", "deps")
local status = current[1]
if not status then
  return false
end
if status == "queued" then
  if redis.call("LREM", K.queued, 1, id) == 0 then
    FLOW().unqueue(K, id) -- waiting by priority or limit key
  end
elseif status == "scheduled" then
  redis.call("ZREM", K.scheduled, id)
elseif status == "started" then
  log_attempt(key, "canceled", stamp(clock()), false)
  redis.call("ZREM", K.started, id)
  if current[5] then
    FLOW().left_started(K, id, current[5], "canceled")
  end
  flow_room(K)
elseif status == "deferred" then
  DEPS().undefer(K, id)
else
  return "is " .. status -- (not "canceled": a job canceled before is not canceled again)
end
FLOW().canceled(K, id)
record_canceled(K, key, id, current[3], current[2], clock())
if current[6] then
  DEPS().ended(K, id, "canceled", false, "Canceled", "it was canceled")
end
if status == "started" then
  return {"canceled", current[4] or ""}
end
return "canceled"
