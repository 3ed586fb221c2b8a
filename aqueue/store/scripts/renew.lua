-- Extend the leases of the jobs a worker still holds.
-- ARGV: deadline, then per job: queue_index, id, token.
-- Returns the ids whose lease this worker lost (reaped and handed to another worker).
local deadline = ARGV[1]
local lost = {}
for i = 2, #ARGV, 3 do
  local K = queue_keys(tonumber(ARGV[i]))
  local id = ARGV[i + 1]
  if redis.call("HGET", K.job .. id, "token") == ARGV[i + 2] then
    redis.call("ZADD", K.started, "XX", deadline, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
