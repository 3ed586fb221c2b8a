-- Move due entries of the scheduled set (delayed jobs, retries) to the queue.
-- ARGV: now, limit. Returns {promoted, score of the next entry or false}.
local K = queue_keys(0)
local due = redis.call("ZRANGEBYSCORE", K.scheduled, "-inf", ARGV[1], "LIMIT", 0, tonumber(ARGV[2]))
if #due > 0 then
  for _, id in ipairs(due) do
    redis.call("HSET", K.job .. id, "status", "queued")
  end
  call_chunked("ZREM", K.scheduled, due)
  call_chunked("RPUSH", K.queued, due)
  mark_ready(K)
end
local next_entry = redis.call("ZRANGE", K.scheduled, 0, 0, "WITHSCORES")
return {#due, next_entry[2] or false}
