-- Dependencies (aqueue/workflow): a parent's end becomes "release child X" messages in an
-- outbox in the parent's slot; aqueue.workflow.delivery hands them to the child's slot
-- (release.lua) and removes them afterwards. Keys, all in the slot of their queue:
--   aq:{P}:job:<id>:dependents  Set    children waiting on this job: "<queue> <id> <r>"
--                                      (r = 1: the child receives the result)
--   aq:{P}:outbox               Hash   "<child queue> <child id> <queue> <id>" -> message
--                                      (cmsgpack: status, result, error type, message)
--   aq:{C}:job:<id>:parents     Hash   a deferred job's parents not ended yet:
--                                      "<queue> <id>" -> "<index> <policy>"
--   aq:{C}:deferred             ZSet   deferred jobs, by enqueue time
-- A job with dependents carries the field "deps" = 1, which ack.lua already reads: jobs
-- without dependents pay nothing more. Built on first use, like FLOW().
local deps_lib = nil
local function DEPS()
  if deps_lib then
    return deps_lib
  end
  local L = {}

  -- "aq:{Q}:" -> "Q"
  function L.queue_name(K)
    return string.sub(K.base, 5, -3)
  end

  -- The job ended (or was canceled or deleted before it ran): one message per dependent.
  -- Returns how many messages went to the outbox.
  function L.ended(K, id, status, result, exc_type, exc_message)
    local set = K.job .. id .. ":dependents"
    local members = redis.call("SMEMBERS", set)
    if #members == 0 then
      return 0
    end
    local me = L.queue_name(K) .. " " .. id
    local outbox = K.base .. "outbox"
    local full = cmsgpack.pack(status, result or false, exc_type or false, exc_message or false)
    local bare = full
    if result then
      bare = cmsgpack.pack(status, false, exc_type or false, exc_message or false)
    end
    for _, member in ipairs(members) do
      local cq, cid, wants = string.match(member, "^(%S+) (%S+) (%S+)$")
      redis.call("HSET", outbox, cq .. " " .. cid .. " " .. me, wants == "1" and full or bare)
    end
    redis.call("DEL", set)
    return #members
  end

  -- ack.lua: a job's final outcome, with the result or error from its ack's fields.
  function L.acked(K, id, outcome, first, last)
    local found = {}
    for i = first, last - 1, 2 do
      found[ARGV[i]] = ARGV[i + 1]
    end
    return L.ended(K, id, outcome, found["result"], found["exc_type"], found["exc_message"])
  end

  -- A deferred job leaves that state (canceled, deleted): forget its parents.
  function L.undefer(K, id)
    redis.call("ZREM", K.base .. "deferred", id)
    redis.call("DEL", K.job .. id .. ":parents")
  end

  return L
end
