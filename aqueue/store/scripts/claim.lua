-- Claim up to `count` jobs from the queues in priority order: pop their ids, mark them
-- started under a lease, and return their hashes, in one atomic step.
-- ARGV: count, lease (seconds), claim id (unique per call: worker nonce + sequence)
-- Returns {Redis's time, {queue_index, id, token, {field, value, ...}}...}.
-- uses: flow, deps, flowclaim, flowgate
local count = tonumber(ARGV[1])
local now = clock()
local started_at, deadline, claim_id = stamp(now), now + tonumber(ARGV[2]), ARGV[3]
local claimed = 0
local out = {}
for q = 0, queue_count() - 1 do
  if count <= 0 then
    break
  end
  local K = queue_keys(q)
  local F = flow_state(K) -- nil unless the queue uses priorities, limits, pause...
  local ids
  if F then
    ids = FLOW().pop(K, F, count, now)
  else
    ids = redis.call("LPOP", K.queued, count)
  end
  if ids then
    count = count - #ids
    local leases = {}
    for _, id in ipairs(ids) do
      local key = K.job .. id
      local fields = redis.pcall("HGETALL", key)
      if fields["err"] then
        -- Not a hash (WRONGTYPE): keep the value for inspection under another name and fail
        -- the id; pcall, because an error here would abort the script halfway through.
        local kind = redis.call("TYPE", key)["ok"]
        redis.call("RENAME", key, key .. ":invalid")
        redis.call("HSET", key, "invalid", "job key held a " .. kind .. ", not a hash; its "
          .. "value was moved to " .. key .. ":invalid")
        fields = redis.call("HGETALL", key)
      end
      local deliveries, flow = 1, nil
      for i = 1, #fields, 2 do
        if fields[i] == "deliveries" then
          deliveries = (tonumber(fields[i + 1]) or 0) + 1
        elseif fields[i] == "flow" then
          flow = fields[i + 1]
        end
      end
      if flow and FLOW().claimed(K, F, key, id, flow, now) then
        FLOW().refill(K, F, ids, now) -- it expired (recorded, not run): the next takes its place
      else
      claimed = claimed + 1
      local token = claim_id .. ":" .. claimed
      redis.call("HSET", key, "status", "started", "started_at", started_at,
        "deliveries", deliveries, "token", token)
      leases[#leases + 1] = deadline
      leases[#leases + 1] = id
      out[#out + 1] = {q, id, token, fields}
      end
    end
    if #leases > 0 then
      call_chunked("ZADD", K.started, leases)
    end
  end
  if F then
    FLOW().mark(K, F, now)
  elseif redis.call("LLEN", K.queued) > 0 then
    mark_ready(K)
  else
    redis.call("DEL", K.marker)
  end
end
return {started_at, out}
