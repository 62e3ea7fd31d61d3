"""Lua scripts that must run atomically on the Redis server."""

from __future__ import annotations

# Append a batch of events to one stream, then trim it once: one command and one reply for
# the batch (a pipeline of XADDs costs the client a reply to parse per event). Sent with EVAL,
# so a Redis that restarted or flushed its scripts needs no reload; the server caches the
# compiled script by its hash.
# KEYS: stream. ARGV: maxlen (0 = unbounded), event JSON...
APPEND_EVENTS = """
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'event', ARGV[i])
end
local maxlen = tonumber(ARGV[1])
if maxlen > 0 then
  redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', maxlen)
end
return #ARGV - 1
"""

# Move retries whose time has come from the schedule (a sorted set scored by due time in ms)
# back onto the stream. Atomic, so a retry is never both scheduled and in the stream, and two
# consumers promoting at once cannot add it twice.
# KEYS: schedule, stream. ARGV: now_ms, limit, maxlen (0 = unbounded).
PROMOTE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local maxlen = tonumber(ARGV[3])
for _, member in ipairs(due) do
  local m = cjson.decode(member)
  if maxlen > 0 then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*',
               'event', m['event'], 'attempts', tostring(m['attempts']))
  else
    redis.call('XADD', KEYS[2], '*', 'event', m['event'], 'attempts', tostring(m['attempts']))
  end
  redis.call('ZREM', KEYS[1], member)
end
return #due
"""

# Reset the idle time of entries this consumer still owns, without bumping their delivery
# count (XCLAIM ... JUSTID). An entry another consumer has already reclaimed is left alone.
# KEYS: stream. ARGV: group, consumer, id...
REFRESH_CLAIMS = """
local refreshed = 0
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    refreshed = refreshed + 1
  end
end
return refreshed
"""

# Keep a partition lease this consumer holds. KEYS: owner. ARGV: consumer, lease_ms.
RENEW_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# Give a partition lease back, only if this consumer still holds it. KEYS: owner. ARGV: consumer.
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
