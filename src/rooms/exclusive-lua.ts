/**
 * Seed 000's mappings and the pool's node index, by Lua scripts that each
 * touch one slot: a room's mapping `room:<name>` alone, or a pool's two
 * hashes (`rg:xnodes:<pool>` node → room, `rg:xtaken:<pool>` node → when a
 * taking was made and its mapping not written yet). So they run the same on
 * one Redis and on a Redis Cluster, where a room's mapping and its pool's
 * index live in different slots (see exclusive-redis.ts for the protocol).
 * A value is `node|state|duration|progress`; `parse` tolerates missing fields
 * (a value written by hand).
 */
const PARSE = `
local function parse(v)
  local f = {}
  for part in string.gmatch(v .. '|', '([^|]*)|') do f[#f + 1] = part end
  return f[1] or '', f[2] or '', f[3] or '', f[4] or ''
end
`

/**
 * TAKE. KEYS[1] rg:xnodes:<pool>   KEYS[2] rg:xtaken:<pool>
 * ARGV[1] room   ARGV[2] grace ms   ARGV[3..] the pool's nodes, in order
 * Takes the first node nobody holds (or that this room holds already) for the
 * room. Returns {'taken', node}, or {'full', node, holder, ...}: the nodes
 * whose holder may be stale (not taken within the grace period) to check.
 */
export const TAKE_LUA = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local suspects = {'full'}
for i = 3, #ARGV do
  local node = ARGV[i]
  local holder = redis.call('HGET', KEYS[1], node)
  if not holder or holder == ARGV[1] then
    redis.call('HSET', KEYS[1], node, ARGV[1])
    redis.call('HSET', KEYS[2], node, now)
    return {'taken', node}
  end
  local at = tonumber(redis.call('HGET', KEYS[2], node) or '0')
  if now - at >= tonumber(ARGV[2]) then
    suspects[#suspects + 1] = node
    suspects[#suspects + 1] = holder
  end
end
return suspects
`

/**
 * SETTLE. KEYS[1] rg:xnodes:<pool>   KEYS[2] rg:xtaken:<pool>
 * ARGV[1] node   ARGV[2] expected holder   ARGV[3] new holder ('' = free it)   ARGV[4] grace ms
 * Changes the node's holder only if it is still the expected one ('' = none)
 * and no fresh taking is pending on it. ARGV[4] = 0: the taking is confirmed
 * (its mapping is written). Returns 1 when changed.
 */
export const SETTLE_LUA = `
local holder = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if holder ~= ARGV[2] then return 0 end
local grace = tonumber(ARGV[4])
if grace > 0 then
  local t = redis.call('TIME')
  local at = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
  if t[1] * 1000 + math.floor(t[2] / 1000) - at < grace then return 0 end
end
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
`

/**
 * KEYS[1] room:<room>
 * Returns {'missing'} | {'already-stopped', value} | {'stopped', value}
 */
export const STOP_LUA = `${PARSE}
local cur = redis.call('GET', KEYS[1])
if not cur then return {'missing'} end
local node, state, duration, progress = parse(cur)
if state == 'stopped' then return {'already-stopped', cur} end
local v = node .. '|stopped|' .. duration .. '|' .. progress
redis.call('SET', KEYS[1], v)
return {'stopped', v}
`

/**
 * KEYS[1] room:<room>
 * ARGV[1] node   ARGV[2] duration   ARGV[3] progress
 * Returns 1 when written (the room is still on that node; its state is kept), else 0.
 */
export const WRITE_PROGRESS_LUA = `${PARSE}
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local node, state = parse(cur)
if node ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], node .. '|' .. state .. '|' .. ARGV[2] .. '|' .. ARGV[3])
return 1
`

/**
 * KEYS[1] room:<room>
 * ARGV[1] node   ARGV[2] state
 * Returns 1 when deleted (still on that node in that state), else 0.
 */
export const REMOVE_IF_LUA = `${PARSE}
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local node, state = parse(cur)
if node ~= ARGV[1] or state ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`
