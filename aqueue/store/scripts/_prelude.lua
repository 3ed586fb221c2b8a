-- Shared by every script (prepended at load time). Each queue passes its keys as a block
-- of 8, in the order of aqueue.store.keys.QueueKeys.script_keys(); job keys are
-- <prefix><id> with the prefix declared in the block, so they hash to the queue's slot.
local BLOCK = 8

-- Keys beyond the block are named after the queue's base "aq:{Q}:" (the job prefix
-- without "job:"): the same slot, without growing the block every script takes.
local RECENT = 10000  -- finished and canceled jobs listed, newest first

local function queue_keys(q)
  local b = q * BLOCK
  local job = KEYS[b + 8]
  local base = string.sub(job, 1, #job - 4)
  return {
    queued = KEYS[b + 1], started = KEYS[b + 2], scheduled = KEYS[b + 3],
    failed = KEYS[b + 4], stats = KEYS[b + 5], marker = KEYS[b + 6],
    wake = KEYS[b + 7], job = job, base = base,
    finished = base .. "finished", canceled = base .. "canceled",
    failed_expiry = base .. "failed:expiry",
  }
end

local function queue_count()
  return #KEYS / BLOCK
end

-- Redis's clock, in seconds: every host's decisions (leases, due times) use this one.
local function clock()
  local t = redis.call("TIME")
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- A time as a string with microseconds (Lua's own conversion keeps 14 digits).
local function stamp(t)
  return string.format("%.6f", t)
end

-- unpack() is bounded by Lua's C stack, so long lists go out in chunks.
local function call_chunked(cmd, key, items)
  for i = 1, #items, 1000 do
    redis.call(cmd, key, unpack(items, i, math.min(i + 999, #items)))
  end
end

-- Remember a job in a capped "recent" list (finished, canceled), newest first.
local function remember(list, ids)
  call_chunked("LPUSH", list, ids)
  redis.call("LTRIM", list, 0, RECENT - 1)
end

-- Wake the fetchers: a single member, so the marker never grows.
local function mark_ready(K)
  redis.call("ZADD", K.marker, 0, "ready")
end

-- Wake a scheduler if an entry due at `due` is now the earliest one.
local function nudge_scheduler(K, due)
  local first = redis.call("ZRANGE", K.scheduled, 0, 0, "WITHSCORES")
  if first[2] and tonumber(first[2]) >= due then
    redis.call("LPUSH", K.wake, "1")
    redis.call("LTRIM", K.wake, 0, 0)
  end
end

-- Tell Job.result() waiters, if there are any, that the job ended (sharded pub/sub, on
-- a channel in the queue's slot).
local function notify_waiter(K, id, waiting)
  if waiting then
    redis.call("SPUBLISH", K.job .. id .. ":events", "end")
  end
end

-- A job ends canceled (by a cancel, or a parent's failure): recorded with `...` (more
-- field/value pairs), kept for its result TTL, its waiters told, counted.
local function record_canceled(K, key, id, result_ttl, waiting, now, ...)
  redis.call("HSET", key, "status", "canceled", "ended_at", stamp(now), ...)
  local ttl = tonumber(result_ttl) or -1
  if ttl >= 0 then
    redis.call("EXPIRE", key, math.max(ttl, 1))
  end
  notify_waiter(K, id, waiting)
  redis.call("HINCRBY", K.stats, "canceled", 1)
  remember(K.canceled, {id})
end

-- Put a job in the failed registry, scored by when it failed; a failure TTL > 0 also
-- schedules its removal (failed:expiry, read by the reaper); 0 keeps nothing.
local function register_failure(K, key, id, now, failure_ttl)
  local ttl = tonumber(failure_ttl) or -1
  if ttl == 0 then
    redis.call("DEL", key)
    return
  end
  redis.call("ZADD", K.failed, now, id)
  if ttl > 0 then
    redis.call("EXPIRE", key, ttl)
    redis.call("ZADD", K.failed_expiry, now + ttl, id)
  end
end

-- Take a job out of the failed registry (requeued, deleted, replaced).
local function unregister_failure(K, id)
  redis.call("ZREM", K.failed_expiry, id)
  return redis.call("ZREM", K.failed, id)
end
