/**
 * Seed 003's assignments and presence, atomically and on Redis' clock.
 * Presence lives in one sorted set per room: members `user\nholder`, scored by
 * their expiry; a member whose holder stops renewing it (a crashed instance, an
 * HTTP client gone quiet) simply ages out. Keys of presence sets are built from
 * the prefix passed in ARGV, so these scripts need a standalone Redis (or one
 * shard), not Redis Cluster.
 */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/**
 * KEYS[1] rg:assign:{pool}   hash room -> node
 * KEYS[2] rg:used:{pool}     hash room -> last used (ms)
 * ARGV[1] room   ARGV[2] presence key prefix   ARGV[3] strategy ('least-loaded'|'fill')   ARGV[4] capacity
 * ARGV[5] presence member ('' for none)   ARGV[6] presence ttl ms   ARGV[7..] the pool's nodes, in order
 * Returns {node, created (1|0)}. Load = distinct live users over the node's
 * rooms; least-loaded breaks ties by fewer rooms, then order; fill takes the
 * first node under capacity, else the least loaded.
 */
export const PLACE_LUA = `${NOW}
local room, prefix = ARGV[1], ARGV[2]
local node = redis.call('HGET', KEYS[1], room)
local known = false
if node then
  for i = 7, #ARGV do if ARGV[i] == node then known = true break end end
end
local created = 0
if not known then
  local users, rooms = {}, {}
  for i = 7, #ARGV do users[ARGV[i]] = {} rooms[ARGV[i]] = 0 end
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local n = all[i + 1]
    if rooms[n] then
      rooms[n] = rooms[n] + 1
      for _, m in ipairs(redis.call('ZRANGEBYSCORE', prefix .. all[i], '(' .. now, '+inf')) do
        users[n][string.match(m, '^[^\\n]*')] = true
      end
    end
  end
  local load = {}
  for i = 7, #ARGV do
    local c = 0
    for _ in pairs(users[ARGV[i]]) do c = c + 1 end
    load[ARGV[i]] = c
  end
  local chosen = nil
  if ARGV[3] == 'fill' then
    local capacity = tonumber(ARGV[4])
    for i = 7, #ARGV do
      if load[ARGV[i]] < capacity then chosen = ARGV[i] break end
    end
  end
  if not chosen then
    for i = 7, #ARGV do
      local n = ARGV[i]
      if not chosen or load[n] < load[chosen] or (load[n] == load[chosen] and rooms[n] < rooms[chosen]) then chosen = n end
    end
  end
  node = chosen
  redis.call('HSET', KEYS[1], room, node)
  created = 1
end
redis.call('HSET', KEYS[2], room, now)
if ARGV[5] ~= '' then
  local key, ttl = prefix .. room, tonumber(ARGV[6])
  redis.call('ZADD', key, now + ttl, ARGV[5])
  redis.call('PEXPIRE', key, ttl * 2)
end
return {node, created}
`

/**
 * KEYS[1] rg:assign:{pool}   KEYS[2] rg:used:{pool}
 * ARGV[1] room   ARGV[2] presence key   ARGV[3] member
 * Ends one presence entry; an assigned room counts as used now.
 */
export const RELEASE_LUA = `${NOW}
redis.call('ZREM', ARGV[2], ARGV[3])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[2], ARGV[1], now) end
return 1
`

/**
 * ARGV[1] ttl ms, then pairs: presence key, member
 * Renews (or recreates) each entry to expire ttl from now.
 */
export const TOUCH_LUA = `${NOW}
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('ZADD', ARGV[i], now + ttl, ARGV[i + 1])
  redis.call('PEXPIRE', ARGV[i], ttl * 2)
end
return 1
`

/**
 * KEYS[1] rg:assign:{pool}   KEYS[2] rg:used:{pool}
 * ARGV[1] presence key prefix   ARGV[2] idle ms
 * Drops expired presence (a room counts as used until its last user expired),
 * then the assignment of every room with no live presence, unused for idle ms.
 * Returns the rooms dropped.
 */
export const CLEAN_LUA = `${NOW}
local prefix, idle = ARGV[1], tonumber(ARGV[2])
local removed = {}
for _, room in ipairs(redis.call('HKEYS', KEYS[1])) do
  local key = prefix .. room
  local used = tonumber(redis.call('HGET', KEYS[2], room) or '0')
  local last = redis.call('ZREVRANGEBYSCORE', key, now, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #last > 0 then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    local seen = tonumber(last[2])
    if seen > used then
      used = seen
      redis.call('HSET', KEYS[2], room, used)
    end
  end
  if redis.call('ZCARD', key) == 0 and now - used >= idle then
    redis.call('HDEL', KEYS[1], room)
    redis.call('HDEL', KEYS[2], room)
    redis.call('DEL', key)
    removed[#removed + 1] = room
  end
end
return removed
`

/**
 * KEYS[1] rg:assign:{pool}   KEYS[2] rg:used:{pool}
 * ARGV[1] presence key prefix   ARGV[2] one room, or '' for all
 * Returns flat {room, node, live distinct users, last used ms, ...}.
 */
export const LIST_LUA = `${NOW}
local prefix = ARGV[1]
local rooms
if ARGV[2] ~= '' then rooms = {ARGV[2]} else rooms = redis.call('HKEYS', KEYS[1]) end
local out = {}
for _, room in ipairs(rooms) do
  local node = redis.call('HGET', KEYS[1], room)
  if node then
    local seen, users = {}, 0
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', prefix .. room, '(' .. now, '+inf')) do
      local u = string.match(m, '^[^\\n]*')
      if not seen[u] then seen[u] = true users = users + 1 end
    end
    out[#out + 1] = room
    out[#out + 1] = node
    out[#out + 1] = users
    out[#out + 1] = redis.call('HGET', KEYS[2], room) or '0'
  end
end
return out
`
