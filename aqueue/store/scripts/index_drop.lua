-- Drop a queue's search index, a slice at a time (call again until it returns 0): the
-- config goes first, so enqueues stop indexing at once. ARGV: entries per call.
-- Returns how many entries are left.
local K = queue_keys(0)
local prefix = K.base .. "ix:"
redis.call("DEL", prefix .. "config")
local reply = redis.call("HSCAN", prefix .. "terms", "0", "COUNT", tonumber(ARGV[1]))
local entries = reply[2]
for i = 1, #entries, 2 do
  for term in string.gmatch(entries[i + 1], "[^%z]+") do
    redis.call("UNLINK", prefix .. term)
  end
  redis.call("HDEL", prefix .. "terms", entries[i])
end
return redis.call("HLEN", prefix .. "terms")
