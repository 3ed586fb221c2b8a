-- Register interest in a job's end. ARGV: id.
-- Returns its status; if it has not ended, flags it so the ending script notifies.
local K = queue_keys(0)
local key = K.job .. ARGV[1]
local status = redis.call("HGET", key, "status")
if status and status ~= "finished" and status ~= "failed" and status ~= "canceled" then
  redis.call("HSET", key, "notify", "1")
end
return status
