"""The Lua scripts the Redis store runs: each read-modify-write step is one script, which Redis
runs atomically. Lease and lock times come from the server's clock (``TIME``), so instances on
hosts whose clocks differ agree on what has expired. Times inside are milliseconds."""

from __future__ import annotations

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Field changes as JSON objects: a JSON null deletes the field.
_APPLY = """
local function apply(key, sets, counts)
  for field, value in pairs(sets) do
    if value == cjson.null then
      redis.call('HDEL', key, field)
    else
      redis.call('HSET', key, field, value)
    end
  end
  for field, step in pairs(counts) do
    redis.call('HINCRBY', key, field, step)
  end
end
"""

# KEYS: account hash, account index. ARGV: fingerprint, fields for a new account, changes for
# an existing one.
UPSERT_ACCOUNT = (
    _APPLY
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then
  apply(KEYS[1], cjson.decode(ARGV[2]), {})
  redis.call('SADD', KEYS[2], ARGV[1])
else
  apply(KEYS[1], cjson.decode(ARGV[3]), {})
end
return redis.call('HGETALL', KEYS[1])
"""
)

# KEYS: account hash. ARGV: changes, counter increments. 1 when the account exists.
UPDATE_ACCOUNT = (
    _APPLY
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
apply(KEYS[1], cjson.decode(ARGV[1]), cjson.decode(ARGV[2]))
return 1
"""
)

# KEYS: account hash, account index, the account's alias set. ARGV: fingerprint, alias key
# prefix.
DELETE_ACCOUNT = """
for _, alias in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local key = ARGV[2] .. alias
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
"""

# KEYS: alias key, account hash, the account's alias set. ARGV: alias, account fingerprint,
# alias-set key prefix.
LINK_ALIAS = """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local old = redis.call('GET', KEYS[1])
if old and old ~= ARGV[2] then redis.call('SREM', ARGV[3] .. old, ARGV[1]) end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""

# KEYS: the account's lease set (holder -> expiry), its last-start key.
# ARGV: holder, ttl, limit, min interval.
ACQUIRE_LEASE = (
    _NOW
    + """
local ttl, limit, interval = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local function keep(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  keep(KEYS[1], ttl)
  return 1
end
if limit > 0 and redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
if interval > 0 then
  local last = redis.call('GET', KEYS[2])
  if last and now - tonumber(last) < interval then return 0 end
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
keep(KEYS[1], ttl)
redis.call('SET', KEYS[2], now, 'PX', math.max(interval, 3600000))
return 1
"""
)

# KEYS: lease set. ARGV: holder, ttl.
RENEW_LEASE = (
    _NOW
    + """
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires or tonumber(expires) <= now then return 0 end
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""
)

# KEYS: lease set, release counter. ARGV: holder, release channel.
RELEASE_LEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
local mark = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[2], mark)
return mark
"""

# KEYS: lease set.
IN_FLIGHT = (
    _NOW
    + """
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""
)

# KEYS: lock key. ARGV: holder, ttl.
ACQUIRE_LOCK = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: lock key. ARGV: holder.
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
