-- Hand jobs whose lease expired (their worker died or stalled) back to the queue, or fail
-- them once they have been delivered `max_deliveries` times; forget expired failures.
-- ARGV: max_deliveries (0: no limit), limit.
-- Returns {requeued_ids, failed_ids, ids of leases whose job no longer exists}.
-- uses: flow, flowgate, control, deps
local K = queue_keys(0)
local now = clock()
local max_deliveries = tonumber(ARGV[1])
local expired = redis.call("ZRANGEBYSCORE", K.started, "-inf", now, "LIMIT", 0, tonumber(ARGV[2]))
local requeued, failed, gone = {}, {}, {}
for _, id in ipairs(expired) do
  local key = K.job .. id
  local current = redis.call("HMGET", key, "deliveries", "notify", "failure_ttl", "status", "flow", "deps")
  if not current[4] then
    gone[#gone + 1] = id
  else
    local deliveries = tonumber(current[1]) or 0
    log_attempt(key, "lost", stamp(now), false) -- its worker died or stalled
    redis.call("HDEL", key, "token")
    if max_deliveries > 0 and deliveries >= max_deliveries then
      redis.call("HSET", key, "status", "failed", "ended_at", stamp(now), "exc_type", "WorkerDied",
        "exc_message", "worker died " .. deliveries .. " times while running it", "exc_traceback", "")
      redis.call("HINCRBY", K.stats, "failed", 1)
      register_failure(K, key, id, now, current[3])
      if current[5] then
        FLOW().left_started(K, id, current[5], "failed")
      end
      notify_waiter(K, id, current[2])
      if current[6] then
        DEPS().ended(K, id, "failed", false, "WorkerDied", "worker died " .. deliveries .. " times")
      end
      failed[#failed + 1] = id
    else
      redis.call("HSET", key, "status", "queued")
      if current[5] then
        FLOW().place(K, id, FLOW().left_started(K, id, current[5], "requeue"), true)
      else
        redis.call("LPUSH", K.queued, id)
      end
      requeued[#requeued + 1] = id
    end
  end
end
if #expired > 0 then
  call_chunked("ZREM", K.started, expired)
  flow_room(K)
end
if #requeued > 0 then
  mark_ready(K)
end
-- failures whose TTL passed: their hashes expired by themselves
local forgotten = redis.call("ZRANGEBYSCORE", K.failed_expiry, "-inf", now, "LIMIT", 0, 1000)
if #forgotten > 0 then
  call_chunked("ZREM", K.failed, forgotten)
  call_chunked("ZREM", K.failed_expiry, forgotten)
end
return {requeued, failed, gone}
