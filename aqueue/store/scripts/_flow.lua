-- Time and flow control: priorities and at_front, expiry, unique locks, debounce, pause,
-- rate and concurrency limits per queue and per key (see aqueue/flow/keys.py for the keys).
--
-- Nothing here runs for a queue that never used these features: its flow hash does not
-- exist, and the hooks in the shared scripts return after one lookup of it (per call, not
-- per job). A job uses them only when its first field is "flow": a JSON directive
--   p: priority (higher first), f: 1 at the front, k: limit key, xi/xa: expires (seconds
--   after it is due / a Unix time), u/um/ut: unique lock key, lock lifetime (finished,
--   started, window), seconds; ui: 1 unique by id; d/dw/dk/dm: debounce key, quiet
--   seconds, arguments kept (first, last), most seconds a burst may be held back.
-- Keys are built from the queue's job prefix, so they share its hash tag (cluster slot).

-- Lua creates a closure for every function a script defines, each time the script runs:
-- for ~35 functions that is several microseconds per call, paid by every enqueue and claim.
-- So the library is built only when a call first needs it (FLOW(): one closure), with the
-- claim script's part (_flowclaim.lua: one more). The fast paths of claim, ack and reap use
-- the two small gates of _flowgate.lua.
local flow_lib = nil
local flow_claim_part = nil -- set by _flowclaim.lua, in the claim script
local function FLOW()
  if flow_lib then
    return flow_lib
  end
  local L = {}
  local SPAN = 2199023255552 -- 2^41: one priority's band of scores
  local HALF = 1099511627776 -- 2^40: the middle of a band; FIFO above it, at_front below
  local PENDING = {queued = true, scheduled = true, started = true}

  local function flow_keys(K)
    local b = string.sub(K.job, 1, -5) -- "aq:{Q}:job:" -> "aq:{Q}:"
    return {flow = b .. "flow", prio = b .. "prio", gready = b .. "gready", gin = b .. "gin",
      gkeys = b .. "gkeys", grun = b .. "grun", grate = b .. "grate", rate = b .. "rate",
      group = b .. "g:", unique = b .. "unique:", debounce = b .. "debounce:",
      wakeups = b .. "wakeups"}
  end

  -- The queue's flow settings from its flow hash's HGETALL reply.
  local function flow_settings(K, raw)
    local F = {}
    for i = 1, #raw, 2 do
      F[raw[i]] = raw[i + 1]
    end
    F.K = flow_keys(K)
    F.counted = {}
    return F
  end

  local function flow_decode(directive)
    return cjson.decode(directive)
  end

  -- A score in the priority's band: higher priorities sort first (negative scores for
  -- priorities above 0), FIFO within a priority, at_front ahead of the band's FIFO jobs.
  local function flow_score(FK, priority, front)
    local seq = redis.call("HINCRBY", FK.flow, "seq", 1)
    local base = -priority * SPAN + HALF
    if front then
      return base - seq
    end
    return base + seq
  end

  -- Wake the fetchers at `at` (a limit's window ends): an entry the promoter handles.
  local function flow_wake(K, FK, member, at)
    redis.call("ZADD", FK.wakeups, "LT", at, member)
    local first = redis.call("ZRANGE", FK.wakeups, 0, 0, "WITHSCORES")
    if tonumber(first[2]) >= at then
      nudge_scheduler(K, at)
      local sched = redis.call("ZRANGE", K.scheduled, 0, 0, "WITHSCORES")
      if not sched[2] then -- an empty scheduled set: nudge_scheduler had nothing to compare
        redis.call("LPUSH", K.wake, "1")
        redis.call("LTRIM", K.wake, 0, 0)
      end
    end
  end

  -- A fixed window counter "window:count"; returns used, window index, window end.
  local function flow_window(value, now, period)
    local w = math.floor(now / period)
    if value then
      local sep = string.find(value, ":", 1, true)
      if tonumber(string.sub(value, 1, sep - 1)) == w then
        return tonumber(string.sub(value, sep + 1)), w, (w + 1) * period
      end
    end
    return 0, w, (w + 1) * period
  end

  -- Whether limit key `k` may start a job now; if not and a window is the reason, when.
  local function flow_key_open(F, k, now)
    local cap = tonumber(F.kconc)
    if cap and (tonumber(redis.call("HGET", F.K.grun, k)) or 0) >= cap then
      return false, nil
    end
    local limit = tonumber(F.krate)
    if limit then
      local used, _, ends = flow_window(redis.call("HGET", F.K.grate, k), now, tonumber(F.kperiod))
      if used >= limit then
        return false, ends
      end
    end
    return true, nil
  end

  -- Put key `k` in the round-robin rotation (once); claim checks its limits when it pops it.
  local function flow_enter(FK, k)
    if redis.call("SADD", FK.gin, k) == 1 then
      redis.call("RPUSH", FK.gready, k)
    end
  end

  -- Make a ready job claimable: by limit key, by priority, or in the plain list.
  local function flow_place(K, id, d, front)
    local FK = flow_keys(K)
    front = front or d.f == 1
    if d.k then
      redis.call("ZADD", FK.group .. d.k, flow_score(FK, d.p or 0, front), id)
      redis.call("SADD", FK.gkeys, d.k)
      flow_enter(FK, d.k)
    elseif (d.p or 0) ~= 0 then
      redis.call("ZADD", FK.prio, flow_score(FK, d.p, front), id)
    elseif front then
      redis.call("HSETNX", FK.flow, "seq", 0)
      redis.call("LPUSH", K.queued, id)
    else
      redis.call("RPUSH", K.queued, id)
    end
    mark_ready(K)
  end

  -- Release unique lock `d.u` if job `id` holds it (a window lock only runs out).
  local function flow_unlock(FK, id, d)
    if d.u and d.um ~= "window" then
      local lock = FK.unique .. d.u
      if redis.call("GET", lock) == id then
        redis.call("DEL", lock)
      end
    end
  end

  -- A job of limit key `k` left `started`: free its slot; back in the rotation if it waits.
  local function flow_release_key(K, FK, k)
    local running = redis.call("HINCRBY", FK.grun, k, -1)
    if running <= 0 then
      redis.call("HDEL", FK.grun, k)
    end
    if redis.call("ZCARD", FK.group .. k) > 0 then
      flow_enter(FK, k)
      mark_ready(K)
    end
  end

  -- enqueue.lua, first pass: keep (return) the pending job of an explicit id?
  local function flow_keeps_existing(directive)
    return flow_decode(directive).ui == 1
  end

  -- enqueue.lua, second pass, for a job whose first pair is its flow directive: write it,
  -- unless a unique lock or a debounce names another job, which is returned instead.
  -- Returns (id of the job kept instead, or nil), (due time if scheduled, or nil).
  local function flow_enqueue(K, queue, id, key, mode, due, first, last, now)
    local d = flow_decode(ARGV[first + 1])
    local FK = flow_keys(K)
    if d.u then
      local lock = FK.unique .. d.u
      local holder = redis.call("GET", lock)
      if holder and holder ~= id and (d.um == "window"
          or PENDING[redis.call("HGET", K.job .. holder, "status")]) then
        return holder, nil
      end
      redis.call("SET", lock, id, "EX", d.ut)
    end
    local at = nil
    if mode == "at" then
      at = tonumber(due)
    elseif mode == "in" then
      at = now + tonumber(due)
    end
    local extra = {}
    if d.d then
      local lock = FK.debounce .. d.d
      local holder = redis.call("GET", lock)
      if holder and holder ~= id
          and redis.call("HGET", K.job .. holder, "status") == "scheduled" then
        local run_at = now + d.dw
        local deadline = tonumber(redis.call("HGET", K.job .. holder, "debounce_deadline"))
        if deadline and deadline < run_at then
          run_at = deadline
        end
        redis.call("ZADD", K.scheduled, run_at, holder)
        redis.call("HSET", K.job .. holder, "scheduled_for", stamp(run_at))
        if d.dk == "last" then
          for i = first, last, 2 do
            if ARGV[i] == "args" or ARGV[i] == "kwargs" then
              redis.call("HSET", K.job .. holder, ARGV[i], ARGV[i + 1])
            end
          end
        end
        return holder, nil
      end
      at = now + d.dw
      if d.dm then
        extra[#extra + 1] = "debounce_deadline"
        extra[#extra + 1] = stamp(now + d.dm)
      end
      redis.call("SET", lock, id, "EX", math.ceil(d.dw + (d.dm or d.dw) + 60))
    end
    if d.xi then
      extra[#extra + 1] = "expires_at"
      extra[#extra + 1] = stamp(math.max(at or now, now) + d.xi)
    elseif d.xa then
      extra[#extra + 1] = "expires_at"
      extra[#extra + 1] = stamp(d.xa)
    end
    if at and at > now then
      redis.call("HSET", key, "status", "scheduled", "scheduled_for", stamp(at), "queue", queue,
        "enqueued_at", stamp(now), unpack(ARGV, first, last))
      if #extra > 0 then
        redis.call("HSET", key, unpack(extra))
      end
      if d.k or (d.p or 0) ~= 0 or d.f then
        redis.call("HSETNX", FK.flow, "seq", 0) -- so that the promoter places it
      end
      redis.call("ZADD", K.scheduled, at, id)
      return nil, at
    end
    redis.call("HSET", key, "status", "queued", "queue", queue, "enqueued_at", stamp(now),
      unpack(ARGV, first, last))
    if #extra > 0 then
      redis.call("HSET", key, unpack(extra))
    end
    flow_place(K, id, d, false)
    return nil, nil
  end

  -- ack.lua and reap.lua: a job with a directive left `started` with `outcome`.
  local function flow_left_started(K, id, directive, outcome)
    local d = flow_decode(directive)
    local FK = flow_keys(K)
    if d.k then
      flow_release_key(K, FK, d.k)
    end
    if d.um == "finished" and (outcome == "finished" or outcome == "failed") then
      flow_unlock(FK, id, d)
    end
    return d
  end

  -- promote.lua: handle due wake entries; place due jobs that have a directive. Returns the
  -- ids for the plain list.
  local function flow_promote(K, due, now)
    local FK = flow_keys(K)
    local wakes = redis.call("ZRANGEBYSCORE", FK.wakeups, "-inf", now)
    if #wakes > 0 then
      call_chunked("ZREM", FK.wakeups, wakes)
      for _, member in ipairs(wakes) do
        if string.sub(member, 1, 3) == ":g:" then
          local k = string.sub(member, 4)
          if redis.call("ZCARD", FK.group .. k) > 0 then
            flow_enter(FK, k)
          end
        end
      end
      mark_ready(K)
    end
    if #due == 0 or redis.call("EXISTS", FK.flow) == 0 then
      return due
    end
    local plain = {}
    for _, id in ipairs(due) do
      local directive = redis.call("HGET", K.job .. id, "flow")
      if directive then
        redis.call("HSET", K.job .. id, "status", "queued")
        flow_place(K, id, flow_decode(directive), false)
      else
        plain[#plain + 1] = id
      end
    end
    return plain
  end

  -- promote.lua: the next due time, wake entries included.
  local function flow_next(K, next_score)
    local first = redis.call("ZRANGE", string.sub(K.job, 1, -5) .. "wakeups", 0, 0, "WITHSCORES")
    if first[2] and (not next_score or tonumber(first[2]) < tonumber(next_score)) then
      return first[2]
    end
    return next_score
  end

  -- A queued job with a directive waits outside the plain list: take it out (cancel).
  local function flow_unqueue(K, id)
    local directive = redis.call("HGET", K.job .. id, "flow")
    if not directive then
      return
    end
    local d = flow_decode(directive)
    local FK = flow_keys(K)
    if d.k then
      redis.call("ZREM", FK.group .. d.k, id)
    else
      redis.call("ZREM", FK.prio, id)
    end
  end

  -- cancel.lua: a job that will not run lets go of its unique lock.
  local function flow_canceled(K, id)
    local directive = redis.call("HGET", K.job .. id, "flow")
    if directive then
      flow_unlock(flow_keys(K), id, flow_decode(directive))
    end
  end

  -- Jobs waiting outside the plain list (by priority or limit key), for counts.
  local function flow_queued(K)
    local FK = flow_keys(K)
    if redis.call("EXISTS", FK.flow) == 0 then
      return 0
    end
    local n = redis.call("ZCARD", FK.prio)
    for _, k in ipairs(redis.call("SMEMBERS", FK.gkeys)) do
      n = n + redis.call("ZCARD", FK.group .. k)
    end
    return n
  end

  -- requeue_failed.lua: place the moved jobs that have a directive; returns the rest.
  local function flow_requeue(K, ids)
    if #ids == 0 or redis.call("EXISTS", flow_keys(K).flow) == 0 then
      return ids
    end
    return flow_promote(K, ids, 0)
  end

  -- empty.lua: up to `n` ids waiting outside the plain list, taken out.
  local function flow_take_waiting(K, n)
    local FK = flow_keys(K)
    if redis.call("EXISTS", FK.flow) == 0 then
      return false
    end
    local ids = redis.call("ZRANGE", FK.prio, 0, n - 1)
    if #ids > 0 then
      call_chunked("ZREM", FK.prio, ids)
      return ids
    end
    for _, k in ipairs(redis.call("SMEMBERS", FK.gkeys)) do
      ids = redis.call("ZRANGE", FK.group .. k, 0, n - 1)
      call_chunked("ZREM", FK.group .. k, ids)
      if redis.call("ZCARD", FK.group .. k) == 0 then
        redis.call("SREM", FK.gkeys, k)
      end
      if #ids > 0 then
        return ids
      end
    end
    return false
  end

  L.keys = flow_keys
  L.settings = flow_settings
  L.decode = flow_decode
  L.score = flow_score
  L.wake = flow_wake
  L.window = flow_window
  L.key_open = flow_key_open
  L.enter = flow_enter
  L.place = flow_place
  L.unlock = flow_unlock
  L.release_key = flow_release_key
  L.keeps_existing = flow_keeps_existing
  L.enqueue = flow_enqueue
  L.left_started = flow_left_started
  L.promote = flow_promote
  L.next = flow_next
  L.unqueue = flow_unqueue
  L.canceled = flow_canceled
  L.queued = flow_queued
  L.requeue = flow_requeue
  L.take_waiting = flow_take_waiting
  if flow_claim_part then
    flow_claim_part(L)
  end
  flow_lib = L
  return L
end
