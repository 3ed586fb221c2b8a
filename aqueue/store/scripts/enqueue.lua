-- Enqueue one or many jobs of one queue, atomically; safe to send again (a resend after
-- a lost reply recognises the jobs it already wrote).
-- ARGV: njobs, queue name, then per job:
--   id, explicit id (0/1), nonce, due mode ("", "at": a Unix time, "in": seconds from now),
--   due, npairs, then npairs field/value pairs (func, args, kwargs, timeout...)
-- Returns {jobs written, Redis's time, {job number, id of the job kept instead}...}.
-- uses: flow, index
local K = queue_keys(0)
local njobs, queue = tonumber(ARGV[1]), ARGV[2]
local now = clock()
local index = index_fields(K)  -- false unless the queue has a search index

-- A job id already taken: by this very enqueue (sent before; its reply was lost) -> skip;
-- by another pending job -> refuse the whole batch.
local skip = {}
local kept = nil -- {job number, id of the job kept instead...}, only if any
local pos = 3
for j = 1, njobs do
  local id, explicit, nonce, npairs = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2], ARGV[pos + 5]
  local current = redis.call("HMGET", K.job .. id, "status", "nonce")
  if current[1] then
    if explicit == "0" or current[2] == nonce then
      skip[j] = true
    elseif current[1] == "queued" or current[1] == "scheduled" or current[1] == "started"
        or current[1] == "deferred" then
      if ARGV[pos + 6] == "flow" and FLOW().keeps_existing(ARGV[pos + 7]) then
        skip[j] = true
        kept = kept or {}
        kept[#kept + 1] = j
        kept[#kept + 1] = id
      else
        return redis.error_reply("JOBEXISTS job " .. id .. " is already " .. current[1])
      end
    end
  end
  pos = pos + 6 + tonumber(npairs) * 2
end

local ready = {}
local earliest = nil
local written = 0
pos = 3
for j = 1, njobs do
  local id, explicit, mode, due = ARGV[pos], ARGV[pos + 1], ARGV[pos + 3], ARGV[pos + 4]
  local first, last = pos + 6, pos + 5 + tonumber(ARGV[pos + 5]) * 2
  pos = last + 1
  if not skip[j] then
    local key = K.job .. id
    if explicit == "1" then
      -- replacing an ended job: forget it everywhere
      redis.call("DEL", key)
      unregister_failure(K, id)
    end
    if ARGV[first] == "flow" then
      local holder, at = FLOW().enqueue(K, queue, id, key, mode, due, first, last, now)
      if holder then
        kept = kept or {}
        kept[#kept + 1] = j
        kept[#kept + 1] = holder
      else
        written = written + 1
        if at and (earliest == nil or at < earliest) then
          earliest = at
        end
        if index then
          index_enqueued(K, index, id, now, first, last, explicit == "1")
        end
      end
    else
    local at = nil
    if mode == "at" then
      at = tonumber(due)
    elseif mode == "in" then
      at = now + tonumber(due)
    end
    if at and at > now then
      redis.call("HSET", key, "status", "scheduled", "scheduled_for", stamp(at), "queue", queue,
        "enqueued_at", stamp(now), unpack(ARGV, first, last))
      redis.call("ZADD", K.scheduled, at, id)
      if earliest == nil or at < earliest then
        earliest = at
      end
    else
      redis.call("HSET", key, "status", "queued", "queue", queue, "enqueued_at", stamp(now),
        unpack(ARGV, first, last))
      ready[#ready + 1] = id
    end
    if index then
      index_enqueued(K, index, id, now, first, last, explicit == "1")
    end
    written = written + 1
    end
  end
end
if written > 0 then
  redis.call("HINCRBY", K.stats, "enqueued", written)
end
if #ready > 0 then
  call_chunked("RPUSH", K.queued, ready)
  mark_ready(K)
end
if earliest then
  nudge_scheduler(K, earliest)
end
return {written, stamp(now), kept}
