-- Job control (cancel, snooze, attempt history): helpers for ack.lua, reap.lua and
-- cancel.lua. A job's attempts are kept in its hash, field `attempt_log` (a JSON list of
-- the last 20 that did not finish: the attempt that finished is read from the job's own
-- fields), so a plain job that finishes at its first attempt pays nothing for it.
local ATTEMPTS_KEPT = 20
local MESSAGE_KEPT = 200

-- Append the attempt that just ended: its claim token (which names the worker), start,
-- end, outcome and, if `with_error`, the error it ended with (the job's exc_* fields).
local function log_attempt(key, outcome, ended_at, with_error)
  local f = redis.call("HMGET", key, "token", "started_at", "exc_type", "exc_message",
    "attempt_log")
  local log = f[5] and cjson.decode(f[5]) or {}
  local entry = {w = f[1] or "", s = f[2] or "", e = ended_at, o = outcome}
  if with_error and f[3] then
    entry.t = f[3]
    entry.m = string.sub(f[4] or "", 1, MESSAGE_KEPT)
  end
  log[#log + 1] = entry
  while #log > ATTEMPTS_KEPT do
    table.remove(log, 1)
  end
  redis.call("HSET", key, "attempt_log", cjson.encode(log))
end
