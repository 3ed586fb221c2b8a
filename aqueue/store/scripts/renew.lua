-- Extend the leases of the jobs a worker still holds. Runs under maxmemory too
-- (allow-oom): a worker waiting for memory must not lose the jobs it holds.
-- ARGV: lease (seconds), then per job: queue_index, id, token.
-- Returns {tokens of leases this worker lost, tokens of jobs that no longer exist}.
local deadline = clock() + tonumber(ARGV[1])
local lost, gone = {}, {}
for i = 2, #ARGV, 3 do
  local K = queue_keys(tonumber(ARGV[i]))
  local id = ARGV[i + 1]
  local token = redis.call("HGET", K.job .. id, "token")
  if token == ARGV[i + 2] then
    redis.call("ZADD", K.started, "XX", deadline, id)
  elseif token == false and redis.call("EXISTS", K.job .. id) == 0 then
    gone[#gone + 1] = ARGV[i + 2]
  else
    lost[#lost + 1] = ARGV[i + 2]
  end
end
return {lost, gone}
