-- uses: index
-- Remove from the search index the jobs that no longer exist (expired, deleted), walking
-- ix:terms a slice at a time; the cursor is kept in ix:config, so whichever worker prunes
-- next goes on where the last one stopped. ARGV: how many entries to look at.
-- Returns {entries pruned, entries looked at, 1 if the walk wrapped around}.
local K = queue_keys(0)
local prefix = K.base .. "ix:"
local config = prefix .. "config"
local cursor = redis.call("HGET", config, "cursor") or "0"
local reply = redis.call("HSCAN", prefix .. "terms", cursor, "COUNT", tonumber(ARGV[1]))
local entries = reply[2]
local pruned = 0
for i = 1, #entries, 2 do
  local id = entries[i]
  if redis.call("EXISTS", K.job .. id) == 0 then
    unindex_job(K, id)
    pruned = pruned + 1
  end
end
if redis.call("EXISTS", config) == 1 then
  redis.call("HSET", config, "cursor", reply[1])
end
return {pruned, #entries / 2, reply[1] == "0" and 1 or 0}
