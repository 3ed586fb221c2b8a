-- Register a child with its parents of this queue, or say which have ended: registering
-- and checking are one step, so no end slips between them.
-- ARGV: child queue, child id, 1 if the child receives results, parent id...
-- Returns per parent: false (no such job), "pending" (registered), or the message of its
-- end (see _deps.lua).
local K = queue_keys(0)
local cq, cid, wants = ARGV[1], ARGV[2], ARGV[3]
local member = cq .. " " .. cid .. " " .. wants
local out = {}
for i = 4, #ARGV do
  local key = K.job .. ARGV[i]
  local current = redis.call("HMGET", key, "status", "result", "exc_type", "exc_message")
  local status = current[1]
  if not status then
    out[#out + 1] = false
  elseif status == "finished" or status == "failed" or status == "canceled"
      or status == "expired" then
    out[#out + 1] = cmsgpack.pack(status, wants == "1" and current[2] or false,
      current[3] or false, current[4] or false)
  else
    redis.call("SADD", key .. ":dependents", member)
    redis.call("HSET", key, "deps", "1")
    out[#out + 1] = "pending"
  end
end
return out
