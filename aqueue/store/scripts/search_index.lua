-- uses: index
-- Search the queue's index: jobs that have every term and the given status (or any),
-- newest first. The smallest term set drives the walk (or the status registry, if it is
-- smaller and complete: queued, scheduled, started, failed, deferred); each candidate is checked
-- against the other terms and its status. A candidate whose job is gone is unindexed.
-- ARGV: limit, budget (candidates to look at, at most), status ("" for any), cursor ("" to
--   begin, else as returned), then the terms ("f:<func>", "a:<name>=<value>", "v:<value>").
-- Returns {ids, next cursor (false at the end), candidates looked at, size of the driver}.
local K = queue_keys(0)
local prefix = K.base .. "ix:"
local limit, budget, status, cursor = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local terms = {}
for i = 5, #ARGV do
  terms[#terms + 1] = prefix .. ARGV[i]
end
local REGISTRY = {queued = {K.queued, "list"}, scheduled = {K.scheduled, "zset"},
  started = {K.started, "zset"}, failed = {K.failed, "zset"},
  deferred = {K.base .. "deferred", "zset"}}

local function size(key, kind)
  if kind == "list" then
    return redis.call("LLEN", key)
  end
  return redis.call("ZCARD", key)
end

local driver = cursor ~= "" and string.match(cursor, "^([^|]+)") or nil
if not driver then
  local smallest = nil
  for i, term in ipairs(terms) do
    local n = redis.call("ZCARD", term)
    if smallest == nil or n < smallest then
      driver, smallest = "t" .. i, n
    end
  end
  local registry = REGISTRY[status]
  if registry and (smallest == nil or size(registry[1], registry[2]) < smallest) then
    driver = "s"
  end
end
if not driver then
  return {{}, false, 0, 0}
end
local key, kind
if driver == "s" then
  key, kind = REGISTRY[status][1], REGISTRY[status][2]
else
  key, kind = terms[tonumber(string.sub(driver, 2))], "zset"
end
local others = {}
for i, term in ipairs(terms) do
  if driver ~= "t" .. i then
    others[#others + 1] = term
  end
end

local found, looked = {}, 0
-- Returns false if the candidate left the driver (its job is gone: unindexed).
local function check(id)
  local current = redis.call("HGET", K.job .. id, "status")
  if not current then
    unindex_job(K, id)
    return driver == "s"
  end
  if status == "" or current == status then
    for _, term in ipairs(others) do
      if not redis.call("ZSCORE", term, id) then
        return true
      end
    end
    found[#found + 1] = id
  end
  return true
end

local next_cursor = false
if kind == "zset" then
  -- cursor: the score reached, and how many members with that very score were looked at
  local score, skip = "+inf", 0
  if cursor ~= "" then
    local s, k = string.match(cursor, "^[^|]+|([^|]+)|(%d+)$")
    score, skip = s, tonumber(k)
  end
  local done = false
  while not done and #found < limit and looked < budget do
    local n = math.min(500, budget - looked)
    local batch = redis.call("ZRANGE", key, score, "-inf", "BYSCORE", "REV", "LIMIT", skip, n,
      "WITHSCORES")
    local i = 1
    while i < #batch and #found < limit do
      local id, s = batch[i], batch[i + 1]
      looked = looked + 1
      local stays = check(id)
      if s == score then
        if stays then
          skip = skip + 1
        end
      else
        score, skip = s, stays and 1 or 0
      end
      i = i + 2
    end
    done = #batch < n * 2 and i >= #batch
  end
  if not done then
    next_cursor = driver .. "|" .. score .. "|" .. skip
  end
else
  local offset = cursor ~= "" and tonumber(string.match(cursor, "|(%d+)$")) or 0
  local done = false
  while not done and #found < limit and looked < budget do
    local n = math.min(500, budget - looked)
    local batch = redis.call("LRANGE", key, offset, offset + n - 1)
    local i = 1
    while i <= #batch and #found < limit do
      looked = looked + 1
      check(batch[i])
      offset = offset + 1
      i = i + 1
    end
    done = #batch < n and i > #batch
  end
  if not done then
    next_cursor = driver .. "|" .. offset
  end
end
return {found, next_cursor, looked, size(key, kind)}
