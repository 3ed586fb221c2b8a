-- uses: index
-- Index jobs that exist and are not indexed yet (after the index was turned on), by
-- their enqueue time. ARGV: job ids. Returns how many were indexed.
local K = queue_keys(0)
local fields = index_fields(K)
if not fields then
  return 0
end
local indexed = 0
for i = 1, #ARGV do
  local id = ARGV[i]
  if redis.call("HEXISTS", K.base .. "ix:terms", id) == 0 then
    local job = redis.call("HMGET", K.job .. id, "func", "args", "kwargs", "enqueued_at")
    if job[1] then
      index_job(K, fields, id, tonumber(job[4]) or 0, job[1], job[2], job[3])
      indexed = indexed + 1
    end
  end
end
return indexed
