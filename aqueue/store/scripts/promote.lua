-- Move due entries of the scheduled set (delayed jobs, retries) to the queue.
-- ARGV: limit. Returns {promoted, score of the next entry or false, Redis's time}.
-- uses: flow
local K = queue_keys(0)
local now = clock()
local due = redis.call("ZRANGEBYSCORE", K.scheduled, "-inf", now, "LIMIT", 0, tonumber(ARGV[1]))
local plain = FLOW().promote(K, due, now) -- wake entries; jobs placed by priority or limit key
if #due > 0 then
  for _, id in ipairs(plain) do
    redis.call("HSET", K.job .. id, "status", "queued")
  end
  call_chunked("ZREM", K.scheduled, due)
  call_chunked("RPUSH", K.queued, plain)
  mark_ready(K)
end
local next_entry = redis.call("ZRANGE", K.scheduled, 0, 0, "WITHSCORES")
return {#due, FLOW().next(K, next_entry[2]) or false, stamp(now)}
