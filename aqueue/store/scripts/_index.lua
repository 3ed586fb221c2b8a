-- The opt-in search index of a queue (aqueue.client.search). Per function and per
-- top-level argument value, a sorted set of job ids scored by enqueue time; per job, the
-- list of its terms, so that a pruner can remove them once the job is gone:
--   <base>ix:config            hash: fields ("*", or argument names/positions, comma list),
--                              cursor (where the pruner goes on)
--   <base>ix:f:<func>          ids of the function's jobs
--   <base>ix:a:<name>=<value>  ids whose argument <name> (a keyword, or a position 0, 1...)
--                              is <value>
--   <base>ix:v:<value>         ids with <value> as any top-level argument
--   <base>ix:terms             hash: job id -> its terms, NUL-separated
-- Values are strings (the first 100 bytes), integers, other numbers (%.14g), true and
-- false; lists, objects and null are not indexed. Arguments are read as JSON: a queue
-- with another serializer gets only its functions indexed.
local INDEX_VALUE_MAX = 100
local INDEX_PAYLOAD_MAX = 65536

-- The queue's indexed fields: false (no index), true (all) or a set of names.
local function index_fields(K)
  local fields = redis.call("HGET", K.base .. "ix:config", "fields")
  if not fields then
    return false
  end
  if fields == "*" then
    return true
  end
  local set = {}
  for name in string.gmatch(fields, "[^,]+") do
    set[name] = true
  end
  return set
end

local function index_value(v)
  local t = type(v)
  local s = nil
  if t == "string" then
    s = string.gsub(string.sub(v, 1, INDEX_VALUE_MAX), "%z", "")
  elseif t == "number" then
    if v == math.floor(v) and math.abs(v) < 1e15 then
      s = string.format("%d", v)
    else
      s = string.format("%.14g", v)
    end
  elseif t == "boolean" then
    s = tostring(v)
  end
  return s
end

-- The terms of a job: "f:<func>", then "a:<name>=<value>" and "v:<value>" per argument.
local function index_terms(fields, func, args, kwargs)
  local terms, seen = {}, {}
  local function add(term)
    if not seen[term] then
      seen[term] = true
      terms[#terms + 1] = term
    end
  end
  if func then
    add("f:" .. func)
  end
  local function arg(name, value)
    if fields ~= true and not fields[name] then
      return
    end
    local v = index_value(value)
    if v then
      add("a:" .. name .. "=" .. v)
      add("v:" .. v)
    end
  end
  if args and args ~= "[]" and #args <= INDEX_PAYLOAD_MAX then
    local ok, list = pcall(cjson.decode, args)
    if ok and type(list) == "table" then
      for i, value in ipairs(list) do
        arg(tostring(i - 1), value)
      end
    end
  end
  if kwargs and kwargs ~= "{}" and #kwargs <= INDEX_PAYLOAD_MAX then
    local ok, map = pcall(cjson.decode, kwargs)
    if ok and type(map) == "table" then
      for name, value in pairs(map) do
        if type(name) == "string" then
          arg(name, value)
        end
      end
    end
  end
  return terms
end

-- Take a job out of the index (its terms are in ix:terms).
local function unindex_job(K, id)
  local prefix = K.base .. "ix:"
  local terms = redis.call("HGET", prefix .. "terms", id)
  if terms then
    for term in string.gmatch(terms, "[^%z]+") do
      redis.call("ZREM", prefix .. term, id)
    end
    redis.call("HDEL", prefix .. "terms", id)
  end
end

-- Put a job in the index, scored by `score` (its enqueue time).
local function index_job(K, fields, id, score, func, args, kwargs)
  local prefix = K.base .. "ix:"
  local terms = index_terms(fields, func, args, kwargs)
  for _, term in ipairs(terms) do
    redis.call("ZADD", prefix .. term, score, id)
  end
  redis.call("HSET", prefix .. "terms", id, table.concat(terms, "\0"))
end

-- index_job for a job being enqueued: its fields are ARGV[first..last] (name, value...).
local function index_enqueued(K, fields, id, score, first, last, replacing)
  if replacing then
    unindex_job(K, id)
  end
  local func, args, kwargs
  for i = first, last - 1, 2 do
    local name = ARGV[i]
    if name == "func" then
      func = ARGV[i + 1]
    elseif name == "args" then
      args = ARGV[i + 1]
    elseif name == "kwargs" then
      kwargs = ARGV[i + 1]
    end
  end
  if args == nil then  -- large arguments were written by an HSET of their own, just before
    local stored = redis.call("HMGET", K.job .. id, "args", "kwargs")
    args, kwargs = stored[1], stored[2]
  end
  index_job(K, fields, id, score, func, args, kwargs)
end
