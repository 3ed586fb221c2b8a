-- Register interest in a job's end. ARGV: id.
-- Returns the job's hash if it has ended, its status if not (and flags it, so that the
-- script that ends it notifies), or false if there is no such job.
local K = queue_keys(0)
local key = K.job .. ARGV[1]
local status = redis.call("HGET", key, "status")
if not status then
  return false
end
if status == "finished" or status == "failed" or status == "canceled" or status == "expired" then
  return redis.call("HGETALL", key)
end
redis.call("HSET", key, "notify", "1")
return status
