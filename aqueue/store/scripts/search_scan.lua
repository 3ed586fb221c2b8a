-- uses: index
-- Search a queue without its index: walk its registries (queued, scheduled, deferred, started,
-- failed, and the 10,000 most recent finished and canceled), each in the order job_ids()
-- lists it, and keep the jobs that have every term (the terms of the index, computed from
-- each job's hash). Bounded: at most `budget` jobs per call; go on with the cursor.
-- ARGV: limit, budget, cursor ("" to begin), states (comma list, in order), then terms.
-- Returns {ids, next cursor (false at the end), jobs looked at, jobs in those registries}.
local K = queue_keys(0)
local limit, budget, cursor = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local wanted = {}
for i = 5, #ARGV do
  wanted[#wanted + 1] = ARGV[i]
end
local REGISTRY = {queued = {K.queued, "LRANGE"}, scheduled = {K.scheduled, "ZRANGE"},
  started = {K.started, "ZRANGE"}, failed = {K.failed, "ZREVRANGE"},
  finished = {K.finished, "LRANGE"}, canceled = {K.canceled, "LRANGE"},
  deferred = {K.base .. "deferred", "ZRANGE"}}
local states = {}
local total = 0
for name in string.gmatch(ARGV[4], "[^,]+") do
  local registry = REGISTRY[name]
  states[#states + 1] = registry
  if registry[2] == "LRANGE" then
    total = total + redis.call("LLEN", registry[1])
  else
    total = total + redis.call("ZCARD", registry[1])
  end
end

local state, offset = 1, 0
if cursor ~= "" then
  local s, o = string.match(cursor, "^(%d+)|(%d+)$")
  state, offset = tonumber(s), tonumber(o)
end

-- A cheap look first: the function by name, each value as plain text inside the raw
-- arguments (skipped for values JSON would escape); only jobs that pass are decoded and
-- their terms compared exactly.
local quick = {}
for i, term in ipairs(wanted) do
  local kind, rest = string.sub(term, 1, 2), string.sub(term, 3)
  local value = kind == "a:" and string.match(rest, "^[^=]*=(.*)$") or rest
  if kind == "f:" then
    quick[i] = {"func", rest}
  elseif not string.find(value, '["\\%c]') then
    quick[i] = {"text", value}
  end
end

local function matches(id)
  local job = redis.call("HMGET", K.job .. id, "func", "args", "kwargs")
  if not job[1] then
    return false
  end
  local decode = false
  for i = 1, #wanted do
    local check = quick[i]
    if check == nil then
      decode = true
    elseif check[1] == "func" then
      if job[1] ~= check[2] then
        return false
      end
    else
      decode = true
      if not (string.find(job[2] or "", check[2], 1, true)
          or string.find(job[3] or "", check[2], 1, true)) then
        return false
      end
    end
  end
  if not decode then
    return true
  end
  local have = {}
  for _, term in ipairs(index_terms(true, job[1], job[2], job[3])) do
    have[term] = true
  end
  for _, term in ipairs(wanted) do
    if not have[term] then
      return false
    end
  end
  return true
end

local found, looked = {}, 0
while state <= #states and #found < limit and looked < budget do
  local registry = states[state]
  local n = math.min(500, budget - looked)
  local ids = redis.call(registry[2], registry[1], offset, offset + n - 1)
  local i = 1
  while i <= #ids and #found < limit do
    looked = looked + 1
    if matches(ids[i]) then
      found[#found + 1] = ids[i]
    end
    offset = offset + 1
    i = i + 1
  end
  if #ids < n and i > #ids then
    state, offset = state + 1, 0
  end
end
local next_cursor = false
if state <= #states then
  next_cursor = state .. "|" .. offset
end
return {found, next_cursor, looked, total}
