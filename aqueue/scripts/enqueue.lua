-- Enqueue one or many jobs of one queue, atomically.
-- ARGV: njobs, then per job: id, due (0 = ready now), explicit_id (0/1), npairs, field, value...
local K = queue_keys(0)
local njobs = tonumber(ARGV[1])
local jobs = {}
local pos = 2
for j = 1, njobs do
  local npairs = tonumber(ARGV[pos + 3])
  jobs[j] = {ARGV[pos], tonumber(ARGV[pos + 1]), ARGV[pos + 2] == "1", pos + 4, pos + 3 + npairs * 2}
  if jobs[j][3] then
    local status = redis.call("HGET", K.job .. ARGV[pos], "status")
    if status == "queued" or status == "scheduled" or status == "started" then
      return redis.error_reply("JOBEXISTS job " .. ARGV[pos] .. " is already " .. status)
    end
  end
  pos = pos + 4 + npairs * 2
end

local ready = {}
local earliest = nil
for j = 1, njobs do
  local id, due, explicit, first, last = unpack(jobs[j])
  local key = K.job .. id
  if explicit then
    redis.call("DEL", key)
  end
  redis.call("HSET", key, unpack(ARGV, first, last))
  if due > 0 then
    redis.call("ZADD", K.scheduled, due, id)
    if earliest == nil or due < earliest then
      earliest = due
    end
  else
    ready[#ready + 1] = id
  end
end
if #ready > 0 then
  call_chunked("RPUSH", K.queued, ready)
  mark_ready(K)
end
if earliest then
  nudge_scheduler(K, earliest)
end
return njobs
