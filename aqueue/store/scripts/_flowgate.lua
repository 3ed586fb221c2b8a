-- The fast-path gates of time and flow control (with _flow.lua): one lookup per call, and
-- the flow library only when the queue uses it.

-- claim.lua: the queue's flow settings, or nil when no flow feature was ever used (the
-- fast path: one lookup per claim, not per job).
local function flow_state(K)
  local raw = redis.call("HGETALL", string.sub(K.job, 1, -5) .. "flow")
  if #raw == 0 then
    return nil
  end
  return FLOW().settings(K, raw)
end

-- ack.lua and reap.lua, once per queue: jobs left `started`; a concurrency cap has room.
local function flow_room(K)
  if redis.call("HEXISTS", string.sub(K.job, 1, -5) .. "flow", "conc") == 1 then
    mark_ready(K)
  end
end
