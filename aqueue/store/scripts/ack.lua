-- Record the outcome of many jobs at once. A job is touched only if it is still started
-- under the caller's claim token; otherwise its id is returned as rejected.
-- ARGV: per job: queue_index, id, token, outcome, number, npairs, field, value...
--   outcome "finished": number = result TTL (0: drop the job, -1: keep)
--   outcome "failed":   number = failure TTL (-1: keep until requeued or deleted)
--   outcome "retry":    number = seconds until the retry is due
--   outcome "requeue":  hand the job back to the front of its queue (worker shutdown)
--   outcome "snooze":   like "retry", but no failure: number = seconds until it runs again
--   outcome "canceled": only confirms a cancellation cancel.lua recorded (frees the claim)
-- Returns {tokens of rejected outcomes (the job is not started under that token: the lease
-- was lost), tokens of jobs that no longer exist, 1 if an outbox got messages (deps)}.
-- uses: flow, flowgate, control, deps
local FINAL_STATUS = {finished = "finished", failed = "failed", retry = "scheduled",
  requeue = "queued", snooze = "scheduled", canceled = "canceled"}
local now = clock()
local ended_at = stamp(now)
local rejected, gone = {}, {}
local leaving = {}
local finished = {}
local counts = {}
local outbox = 0
local earliest = {}
local pos = 1
while pos <= #ARGV do
  local q, id, token, outcome = tonumber(ARGV[pos]), ARGV[pos + 1], ARGV[pos + 2], ARGV[pos + 3]
  local number, npairs = tonumber(ARGV[pos + 4]), tonumber(ARGV[pos + 5])
  local first, last = pos + 6, pos + 5 + npairs * 2
  pos = last + 1
  local K = queue_keys(q)
  local key = K.job .. id
  local current = redis.call("HMGET", key, "token", "status", "notify", "flow", "deps")
  if current[1] == token and current[2] == FINAL_STATUS[outcome] then
    -- already recorded: this batch was sent again after its reply was lost
  elseif current[2] == false then
    gone[#gone + 1] = token
  elseif current[1] ~= token or current[2] ~= "started" then
    rejected[#rejected + 1] = token
  else
    if outcome == "finished" or outcome == "failed" then
      redis.call("HSET", key, "ended_at", ended_at, unpack(ARGV, first, last))
    elseif npairs > 0 then
      redis.call("HSET", key, unpack(ARGV, first, last))
    end
    if outcome ~= "finished" then -- (a finished attempt is read from the job's fields)
      log_attempt(key, outcome, ended_at, outcome == "retry" or outcome == "failed")
    end
    if current[4] then
      FLOW().left_started(K, id, current[4], outcome)
    end
    if current[5] and (outcome == "finished" or outcome == "failed") then
      outbox = outbox + DEPS().acked(K, id, outcome, first, last)
    end
    leaving[q] = leaving[q] or {}
    table.insert(leaving[q], id)
    counts[q] = counts[q] or {}
    counts[q][outcome] = (counts[q][outcome] or 0) + 1
    if outcome == "finished" then
      if number == 0 then
        redis.call("DEL", key)
      else
        if number > 0 then
          redis.call("EXPIRE", key, number)
        end
        finished[q] = finished[q] or {}
        table.insert(finished[q], id)
      end
      notify_waiter(K, id, current[3])
    elseif outcome == "failed" then
      register_failure(K, key, id, now, number)
      notify_waiter(K, id, current[3])
    elseif outcome == "retry" or outcome == "snooze" then
      -- the run ended (in failure): its worker did not die, so it is no lost delivery
      local due = now + number
      redis.call("HSET", key, "deliveries", 0, "scheduled_for", stamp(due))
      redis.call("ZADD", K.scheduled, due, id)
      if earliest[q] == nil or due < earliest[q] then
        earliest[q] = due
      end
    elseif outcome == "requeue" then
      redis.call("HINCRBY", key, "deliveries", -1)
      if current[4] then
        FLOW().place(K, id, cjson.decode(current[4]), true)
      else
        redis.call("LPUSH", K.queued, id)
        mark_ready(K)
      end
    end
  end
end
for q, ids in pairs(leaving) do
  local K = queue_keys(q)
  call_chunked("ZREM", K.started, ids)
  flow_room(K)
  for outcome, n in pairs(counts[q]) do
    redis.call("HINCRBY", K.stats, outcome, n)
  end
end
for q, ids in pairs(finished) do
  remember(queue_keys(q).finished, ids)
end
for q, due in pairs(earliest) do
  nudge_scheduler(queue_keys(q), due)
end
return {rejected, gone, outbox > 0 and 1 or 0}
