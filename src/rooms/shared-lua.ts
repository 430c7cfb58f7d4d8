/**
 * Seed 003's assignments and presence, atomically and on Redis' clock.
 *
 * Presence lives in one sorted set per room: members `user\nholder`, scored by
 * expiry; a member whose holder stops renewing it (a crashed instance, an HTTP
 * client gone quiet) ages out and the cleaner removes it. For placement to
 * read a node's load in O(1), every change to the members of an assigned room
 * also updates `rg:nusers:{pool}:{node}` (user → entries; HLEN = distinct
 * users) and `rg:nrooms:{pool}` (node → rooms); RECOUNT rebuilds both. The
 * cleaner only visits rooms whose time has come: `rg:due:{pool}` holds, per
 * room, when something may need doing (a member may have expired, the room may
 * have gone idle); changes pull that time earlier (ZADD LT), the cleaner sets
 * the next one. Numbers are written with %.0f (Redis 7.2 would otherwise
 * format big integers in exponent form). Presence keys are built from
 * prefixes passed in ARGV: these scripts need a standalone Redis (or one
 * shard), not Redis Cluster.
 */
const COMMON = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(x) return string.format('%.0f', x) end
local function user_of(member) return string.match(member, '^[^\\n]*') end
local function bump(prefix, node, member, by)
  local key = prefix .. node
  local user = user_of(member)
  if redis.call('HINCRBY', key, user, by) <= 0 then redis.call('HDEL', key, user) end
end
local function bump_rooms(key, node, by)
  if redis.call('HINCRBY', key, node, by) <= 0 then redis.call('HDEL', key, node) end
end
`

/** A presence key outlives its members by this much: the cleaner removes members (and counts) first. */
export const PRESENCE_KEY_MARGIN_MS = 60_000

/**
 * KEYS[1] rg:assign:{pool}   hash room -> node
 * KEYS[2] rg:used:{pool}     hash room -> last used (ms)
 * KEYS[3] rg:nrooms:{pool}   hash node -> rooms
 * KEYS[4] rg:due:{pool}      sorted set room -> next cleaner visit
 * ARGV[1] room   ARGV[2] presence key prefix   ARGV[3] node users prefix   ARGV[4] strategy   ARGV[5] capacity
 * ARGV[6] presence member ('' for none)   ARGV[7] presence ttl ms (integer)   ARGV[8] preferred node ('' for none)
 * ARGV[9..] the pool's nodes, in order
 * Returns {node, created (1|0)}. A new room goes to the preferred node if it
 * is in the pool; else least-loaded: fewest distinct users, then fewer rooms,
 * then order; fill: the first node under capacity, else least-loaded.
 */
export const PLACE_LUA = `${COMMON}
local room, pprefix, uprefix = ARGV[1], ARGV[2], ARGV[3]
local key = pprefix .. room
local node = redis.call('HGET', KEYS[1], room)
local known = false
if node then
  for i = 9, #ARGV do if ARGV[i] == node then known = true break end end
end
local created = 0
if not known then
  local chosen, cu, cr = nil, 0, 0
  if ARGV[8] ~= '' then
    for i = 9, #ARGV do if ARGV[i] == ARGV[8] then chosen = ARGV[8] break end end
  end
  if not chosen and ARGV[4] == 'fill' then
    local capacity = tonumber(ARGV[5])
    for i = 9, #ARGV do
      if redis.call('HLEN', uprefix .. ARGV[i]) < capacity then chosen = ARGV[i] break end
    end
  end
  if not chosen then
    for i = 9, #ARGV do
      local n = ARGV[i]
      local u = redis.call('HLEN', uprefix .. n)
      local r = tonumber(redis.call('HGET', KEYS[3], n) or '0')
      if not chosen or u < cu or (u == cu and r < cr) then chosen, cu, cr = n, u, r end
    end
  end
  -- The room's entries (if any) count on its new node, not on the old one.
  local members = redis.call('ZRANGE', key, 0, -1)
  if node then
    bump_rooms(KEYS[3], node, -1)
    for _, m in ipairs(members) do bump(uprefix, node, m, -1) end
  end
  for _, m in ipairs(members) do bump(uprefix, chosen, m, 1) end
  node = chosen
  redis.call('HSET', KEYS[1], room, node)
  bump_rooms(KEYS[3], node, 1)
  created = 1
end
redis.call('HSET', KEYS[2], room, int(now))
redis.call('ZADD', KEYS[4], 'LT', int(now), room)
if ARGV[6] ~= '' then
  local ttl = tonumber(ARGV[7])
  if redis.call('ZADD', key, int(now + ttl), ARGV[6]) == 1 then bump(uprefix, node, ARGV[6], 1) end
  redis.call('PEXPIRE', key, int(ttl + ${PRESENCE_KEY_MARGIN_MS}))
end
return {node, created}
`

/**
 * KEYS[1] rg:assign:{pool}   KEYS[2] rg:used:{pool}   KEYS[3] rg:due:{pool}
 * ARGV[1] room   ARGV[2] presence key   ARGV[3] member   ARGV[4] node users prefix
 * Ends one presence entry; an assigned room counts as used now.
 */
export const RELEASE_LUA = `${COMMON}
local node = redis.call('HGET', KEYS[1], ARGV[1])
if redis.call('ZREM', ARGV[2], ARGV[3]) == 1 and node then bump(ARGV[4], node, ARGV[3], -1) end
if node then
  redis.call('HSET', KEYS[2], ARGV[1], int(now))
  redis.call('ZADD', KEYS[3], 'LT', int(now), ARGV[1])
end
return 1
`

/**
 * KEYS[1] the pool's assignments key (routes the call to the pool's slot)
 * ARGV[1] ttl ms (integer), then per entry (6 each): assignments key, due key,
 *   room, presence key, member, node users prefix
 * Renews (or recreates) each entry to expire ttl from now. Returns the
 * 1-based positions of entries that were recreated in a room without an
 * assignment (the cleaner dropped it while their holder could not renew):
 * the holder must place those rooms again.
 */
export const TOUCH_LUA = `${COMMON}
local ttl = tonumber(ARGV[1])
local orphans = {}
local index = 0
for i = 2, #ARGV, 6 do
  index = index + 1
  local assign, due, room, key, member, uprefix = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local node = redis.call('HGET', assign, room)
  local added = redis.call('ZADD', key, int(now + ttl), member)
  redis.call('PEXPIRE', key, int(ttl + ${PRESENCE_KEY_MARGIN_MS}))
  if node then
    if added == 1 then bump(uprefix, node, member, 1) end
    redis.call('ZADD', due, 'LT', int(now + ttl), room)
  elseif added == 1 then
    orphans[#orphans + 1] = index
  end
end
return orphans
`

/**
 * KEYS[1] rg:assign:{pool}   KEYS[2] rg:used:{pool}   KEYS[3] rg:nrooms:{pool}   KEYS[4] rg:due:{pool}
 * ARGV[1] presence key prefix   ARGV[2] node users prefix   ARGV[3] idle ms   ARGV[4] rooms to visit at most
 * Visits the rooms that are due: drops expired presence (a room counts as
 * used until its last user expired), drops the assignment of a room with no
 * presence left and unused for idle ms, and sets each visited room's next due
 * time. Returns the rooms dropped.
 */
export const CLEAN_LUA = `${COMMON}
local pprefix, uprefix, idle = ARGV[1], ARGV[2], tonumber(ARGV[3])
local removed = {}
for _, room in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', int(now), 'LIMIT', 0, tonumber(ARGV[4]))) do
  local node = redis.call('HGET', KEYS[1], room)
  if not node then
    redis.call('ZREM', KEYS[4], room)
  else
    local key = pprefix .. room
    local used = tonumber(redis.call('HGET', KEYS[2], room) or '0')
    local expired = redis.call('ZRANGEBYSCORE', key, '-inf', int(now), 'WITHSCORES')
    for i = 1, #expired, 2 do
      bump(uprefix, node, expired[i], -1)
      local seen = tonumber(expired[i + 1])
      if seen > used then used = seen end
    end
    if #expired > 0 then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now))
      redis.call('HSET', KEYS[2], room, int(used))
    end
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if #first > 0 then
      redis.call('ZADD', KEYS[4], first[2], room)
    elseif now - used >= idle then
      redis.call('HDEL', KEYS[1], room)
      redis.call('HDEL', KEYS[2], room)
      redis.call('ZREM', KEYS[4], room)
      bump_rooms(KEYS[3], node, -1)
      redis.call('DEL', key)
      removed[#removed + 1] = room
    else
      redis.call('ZADD', KEYS[4], int(used + idle), room)
    end
  end
end
return removed
`

/**
 * KEYS[1] rg:assign:{pool}   KEYS[2] rg:nrooms:{pool}   KEYS[3] rg:due:{pool}
 * ARGV[1] presence key prefix   ARGV[2] node users prefix   ARGV[3..] nodes to reset (the pool's)
 * Rebuilds the per-node counts from the assignments and presence sets, and
 * makes every room due (the next cleaning visits them all once).
 */
export const RECOUNT_LUA = `${COMMON}
local pprefix, uprefix = ARGV[1], ARGV[2]
for i = 3, #ARGV do redis.call('DEL', uprefix .. ARGV[i]) end
redis.call('DEL', KEYS[2])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local node = all[i + 1]
  bump_rooms(KEYS[2], node, 1)
  for _, m in ipairs(redis.call('ZRANGE', pprefix .. all[i], 0, -1)) do bump(uprefix, node, m, 1) end
  redis.call('ZADD', KEYS[3], int(now), all[i])
end
return 1
`

/**
 * KEYS[1] rg:assign:{pool}   KEYS[2] rg:used:{pool}
 * ARGV[1] presence key prefix   ARGV[2] one room, or '' for all
 * Returns flat {room, node, live distinct users, last used ms, ...}.
 */
export const LIST_LUA = `${COMMON}
local prefix = ARGV[1]
local rooms
if ARGV[2] ~= '' then rooms = {ARGV[2]} else rooms = redis.call('HKEYS', KEYS[1]) end
local out = {}
for _, room in ipairs(rooms) do
  local node = redis.call('HGET', KEYS[1], room)
  if node then
    local seen, users = {}, 0
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', prefix .. room, '(' .. int(now), '+inf')) do
      local u = user_of(m)
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
