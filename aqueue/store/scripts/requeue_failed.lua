-- Send failed jobs back to their queue with fresh attempt counters.
-- ARGV: "all", limit (up to `limit` failed jobs: call again until none is looked at) or
-- "ids", then the ids. Returns {number requeued, number looked at}.
-- uses: flow
local K = queue_keys(0)
local ids = {}
if ARGV[1] == "all" then
  ids = redis.call("ZREVRANGE", K.failed, 0, tonumber(ARGV[2]) - 1)
else
  for i = 2, #ARGV do
    ids[#ids + 1] = ARGV[i]
  end
end
local moved = {}
for _, id in ipairs(ids) do
  local key = K.job .. id
  if unregister_failure(K, id) == 1 and redis.call("EXISTS", key) == 1 then
    redis.call("PERSIST", key)
    redis.call("HSET", key, "status", "queued", "attempts", 0, "deliveries", 0)
    redis.call("HDEL", key, "exc_type", "exc_message", "exc_traceback", "ended_at", "token")
    moved[#moved + 1] = id
  end
end
local plain = FLOW().requeue(K, moved) -- placed by priority or limit key
if #plain > 0 then
  call_chunked("RPUSH", K.queued, plain)
  mark_ready(K)
end
return {#moved, #ids}
