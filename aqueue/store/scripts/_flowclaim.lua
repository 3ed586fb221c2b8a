-- Time and flow control in the claim script: limits, round robin between limit keys,
-- expiry at claim time (a part of the flow library: see _flow.lua, which must come first).

flow_claim_part = function(L)
  local flow_keys, flow_decode, flow_window, flow_key_open = L.keys, L.decode, L.window,
    L.key_open
  local flow_wake, flow_enter, flow_unlock, flow_release_key = L.wake, L.enter, L.unlock,
    L.release_key

  -- claim.lua: how many jobs the queue's limits allow now (and when they allow more).
  local function flow_allowed(K, F, count, now)
    if F.paused then
      return 0, nil
    end
    local wake = nil
    local cap = tonumber(F.conc)
    if cap then
      count = math.min(count, cap - redis.call("ZCARD", K.started))
    end
    local limit = tonumber(F.rate)
    if limit and count > 0 then
      local used, _, ends = flow_window(redis.call("HGET", F.K.rate, "window"), now,
        tonumber(F.period))
      if used >= limit then
        wake = ends
      end
      count = math.min(count, limit - used)
    end
    return math.max(count, 0), wake
  end

  -- Ids in priority order: priorities above 0, the plain list, priorities below 0, then
  -- the limit keys in turn (one job per key per turn).
  local function flow_take(K, F, count, now)
    local ids = {}
    local function from_prio(max_score, n)
      local got = redis.call("ZRANGEBYSCORE", F.K.prio, "-inf", max_score, "LIMIT", 0, n)
      if #got > 0 then
        call_chunked("ZREM", F.K.prio, got)
        for _, id in ipairs(got) do
          ids[#ids + 1] = id
        end
      end
    end
    from_prio("(0", count)
    if #ids < count then
      local got = redis.call("LPOP", K.queued, count - #ids)
      if got then
        for _, id in ipairs(got) do
          ids[#ids + 1] = id
        end
      end
    end
    if #ids < count then
      from_prio("+inf", count - #ids)
    end
    while #ids < count do
      local k = redis.call("LPOP", F.K.gready)
      if not k then
        break
      end
      redis.call("SREM", F.K.gin, k)
      local open, wake = flow_key_open(F, k, now)
      if not open then
        if wake then
          flow_wake(K, F.K, ":g:" .. k, wake) -- a window ended; a full key waits for a release
        end
      else
        local popped = redis.call("ZPOPMIN", F.K.group .. k)
        if #popped > 0 then
          local id = popped[1]
          ids[#ids + 1] = id
          F.counted[id] = true
          redis.call("HINCRBY", F.K.grun, k, 1)
          if F.krate then
            local used, w = flow_window(redis.call("HGET", F.K.grate, k), now, tonumber(F.kperiod))
            redis.call("HSET", F.K.grate, k, w .. ":" .. (used + 1))
          end
        end
        if redis.call("ZCARD", F.K.group .. k) > 0 then
          local still, later = flow_key_open(F, k, now)
          if still then
            flow_enter(F.K, k)
          elseif later then
            flow_wake(K, F.K, ":g:" .. k, later)
          end
        else
          redis.call("SREM", F.K.gkeys, k)
          redis.call("HDEL", F.K.grate, k)
        end
      end
    end
    return ids
  end

  -- claim.lua: the ids to claim from one queue whose flow hash exists, within its limits.
  local function flow_pop(K, F, count, now)
    local allowed, wake = flow_allowed(K, F, count, now)
    local ids = {}
    if allowed > 0 then
      ids = flow_take(K, F, allowed, now)
    end
    if F.rate and #ids > 0 then
      local used, w = flow_window(redis.call("HGET", F.K.rate, "window"), now, tonumber(F.period))
      used = used + #ids
      redis.call("HSET", F.K.rate, "window", w .. ":" .. used)
      if used >= tonumber(F.rate) then
        wake = (w + 1) * tonumber(F.period)
      end
    end
    F.wake = wake
    if #ids == 0 then
      return false
    end
    return ids
  end

  -- Whether the queue holds jobs a claim could take (ignoring limits).
  local function flow_has_ready(K, F)
    return redis.call("LLEN", K.queued) > 0 or redis.call("ZCARD", F.K.prio) > 0
      or redis.call("LLEN", F.K.gready) > 0
  end

  -- claim.lua, after a queue's claim: keep the marker only while a claim could succeed.
  local function flow_mark(K, F, now)
    local ready = flow_has_ready(K, F)
    local allowed = flow_allowed(K, F, 1, now)
    if ready and allowed > 0 and not F.wake then
      mark_ready(K)
    else
      redis.call("DEL", K.marker)
      if ready and F.wake and not F.paused then
        flow_wake(K, F.K, ":wake", F.wake)
      end
    end
  end

  -- claim.lua, per claimed job with a directive. Returns true if the job expired (it is
  -- then recorded as such and not run); else counts it as started.
  local function flow_claimed(K, F, key, id, directive, now)
    local d = flow_decode(directive)
    local FK = F and F.K or flow_keys(K)
    if d.xi or d.xa then
      local info = redis.call("HMGET", key, "expires_at", "started_at", "notify", "result_ttl",
        "deps")
      if not info[2] and tonumber(info[1]) and tonumber(info[1]) < now then
        redis.call("HSET", key, "status", "expired", "ended_at", stamp(now))
        redis.call("HINCRBY", K.stats, "expired", 1)
        local ttl = tonumber(info[4]) or -1
        if ttl >= 0 then
          redis.call("EXPIRE", key, math.max(ttl, 1))
        end
        notify_waiter(K, id, info[3])
        if info[5] then
          DEPS().ended(K, id, "expired", false, "JobExpired", "it expired before it started")
        end
        flow_unlock(FK, id, d)
        if d.k and F and F.counted[id] then
          flow_release_key(K, FK, d.k)
        end
        return true
      end
    end
    if d.k and not (F and F.counted[id]) then
      redis.call("HINCRBY", FK.grun, d.k, 1)
    end
    if d.um == "started" then
      flow_unlock(FK, id, d)
    end
    return false
  end

  -- claim.lua: one more id in place of one that expired (ipairs then reaches it too).
  local function flow_refill(K, F, ids, now)
    local more
    if F then
      more = flow_pop(K, F, 1, now)
    else
      more = redis.call("LPOP", K.queued, 1)
    end
    if more then
      ids[#ids + 1] = more[1]
    end
  end

  L.allowed = flow_allowed
  L.take = flow_take
  L.pop = flow_pop
  L.has_ready = flow_has_ready
  L.mark = flow_mark
  L.claimed = flow_claimed
  L.refill = flow_refill
end
