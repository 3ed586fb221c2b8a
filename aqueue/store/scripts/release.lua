-- Deliver parents' ends to deferred jobs of this queue (idempotent: a parent is heard
-- once; a message sent again, or for a job that left "deferred", does nothing).
-- ARGV: triples of child id, "<parent queue> <parent id>", message (see _deps.lua).
-- Returns {jobs released to the queue, jobs canceled, 1 if this queue's outbox grew}.
-- uses: deps
local K = queue_keys(0)
local now = nil
local released, canceled, grew = 0, 0, 0
for pos = 1, #ARGV, 3 do
  local id, ref, message = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2]
  local key = K.job .. id
  local parents = key .. ":parents"
  local entry = redis.call("HGET", parents, ref)
  if entry then
    redis.call("HDEL", parents, ref)
    local index, policy = string.match(entry, "^(%d+) (%a+)$")
    local status, result, exc_type, exc_message = cmsgpack.unpack(message)
    local ok = status == "finished"
    now = now or clock()
    if not ok and policy == "fail" then
      local current = redis.call("HMGET", key, "notify", "result_ttl")
      DEPS().undefer(K, id)
      local pq, pid = string.match(ref, "^(%S+) (%S+)$")
      local why = "parent job " .. pid .. " (queue " .. pq .. ") " .. (status == "deleted"
        and "was deleted" or status == "failed" and "failed" or "ended " .. status)
      record_canceled(K, key, id, current[2], current[1], now,
        "exc_type", "DependencyFailed", "exc_message", why)
      if DEPS().ended(K, id, "canceled", false, "DependencyFailed", why) > 0 then
        grew = 1
      end
      canceled = canceled + 1
    else
      if not (not ok and policy == "ignore") and redis.call("HEXISTS", key, "inputs") == 1 then
        local p = "in:" .. index .. ":"
        local fields = {p .. "s", status, p .. "id", ref}
        if result then
          fields[#fields + 1] = p .. "r"
          fields[#fields + 1] = result
        end
        if exc_type then
          fields[#fields + 1] = p .. "e"
          fields[#fields + 1] = exc_type .. ": " .. (exc_message or "")
        end
        redis.call("HSET", key, unpack(fields))
      end
      if redis.call("EXISTS", parents) == 0 then
        redis.call("ZREM", K.base .. "deferred", id)
        redis.call("HSET", key, "status", "queued", "released_at", stamp(now))
        redis.call("RPUSH", K.queued, id)
        released = released + 1
      end
    end
  end
end
if released > 0 then
  mark_ready(K)
end
return {released, canceled, grew}
