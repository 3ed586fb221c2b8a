-- Delete jobs that are not running: drop them from their registry and delete their hash.
-- ARGV: "ids", id...   or "failed", limit (up to `limit` failed jobs: call again until 0).
-- Returns {deleted, {id, status}...} for ids it did not delete (started, or no such job:
-- status false).
-- uses: deps
local K = queue_keys(0)
local ids = {}
if ARGV[1] == "failed" then
  ids = redis.call("ZREVRANGE", K.failed, 0, tonumber(ARGV[2]) - 1)
else
  for i = 2, #ARGV do
    ids[#ids + 1] = ARGV[i]
  end
end
local deleted, refused = 0, {}
for _, id in ipairs(ids) do
  local key = K.job .. id
  local current = redis.call("HMGET", key, "status", "notify", "deps")
  local status = current[1]
  if not status or status == "started" then
    refused[#refused + 1] = {id, status}
  else
    if status == "queued" then
      redis.call("LREM", K.queued, 1, id)
    elseif status == "scheduled" then
      redis.call("ZREM", K.scheduled, id)
    elseif status == "failed" then
      unregister_failure(K, id)
    elseif status == "finished" then
      redis.call("LREM", K.finished, 1, id)
    elseif status == "canceled" then
      redis.call("LREM", K.canceled, 1, id)
    elseif status == "deferred" then
      DEPS().undefer(K, id)
    end
    if current[3] then
      DEPS().ended(K, id, "deleted", false, "Deleted", "it was deleted")
    end
    redis.call("DEL", key)
    notify_waiter(K, id, current[2])
    deleted = deleted + 1
  end
end
return {deleted, refused}
