/**
 * Seed 000's mappings, atomically. A value is `node|state|duration|progress`;
 * `parse` tolerates missing fields (a value written by hand).
 */
const PARSE = `
local function parse(v)
  local f = {}
  for part in string.gmatch(v .. '|', '([^|]*)|') do f[#f + 1] = part end
  return f[1] or '', f[2] or '', f[3] or '', f[4] or ''
end
`

/**
 * KEYS[1] room:{room}            the room's mapping
 * KEYS[2] rg:xnodes:{pool}       hash node -> room: the pool's nodes in use
 * ARGV[1] room   ARGV[2] mapping key prefix ('room:')   ARGV[3..] the pool's nodes, in order
 * Returns {'existing'|'stopped'|'created', node} or {'full'}. An index entry
 * whose mapping is gone (deleted by hand) frees its node.
 */
export const START_LUA = `${PARSE}
local cur = redis.call('GET', KEYS[1])
if cur then
  local node, state = parse(cur)
  if state == 'stopped' then return {'stopped', node} end
  return {'existing', node}
end
for i = 3, #ARGV do
  local node = ARGV[i]
  local holder = redis.call('HGET', KEYS[2], node)
  local busy = false
  if holder then
    local v = redis.call('GET', ARGV[2] .. holder)
    if v and parse(v) == node then busy = true else redis.call('HDEL', KEYS[2], node) end
  end
  if not busy then
    redis.call('SET', KEYS[1], node .. '|started||')
    redis.call('HSET', KEYS[2], node, ARGV[1])
    return {'created', node}
  end
end
return {'full'}
`

/**
 * KEYS[1] room:{room}
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
 * KEYS[1] room:{room}
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
 * KEYS[1] room:{room}   KEYS[2] rg:xnodes:{pool}
 * ARGV[1] node   ARGV[2] state   ARGV[3] room
 * Returns 1 when deleted (still on that node in that state, and the node is freed), else 0.
 */
export const REMOVE_IF_LUA = `${PARSE}
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local node, state = parse(cur)
if node ~= ARGV[1] or state ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('HGET', KEYS[2], node) == ARGV[3] then redis.call('HDEL', KEYS[2], node) end
return 1
`


/**
 * KEYS[1] rg:xnodes:{pool}
 * ARGV[1] mapping key prefix ('room:')   ARGV[2] number of nodes N   ARGV[3..2+N] the pool's nodes
 * ARGV[3+N..] room names whose mappings to look at
 * Makes each mapping whose node is in the pool hold that node, unless another
 * live mapping holds it already. Returns {adopted rooms..., '', conflicting rooms...}.
 */
export const ADOPT_LUA = `${PARSE}
local n = tonumber(ARGV[2])
local pool = {}
for i = 3, 2 + n do pool[ARGV[i]] = true end
local adopted, conflicts = {}, {}
for i = 3 + n, #ARGV do
  local room = ARGV[i]
  local v = redis.call('GET', ARGV[1] .. room)
  if v then
    local node = parse(v)
    if pool[node] then
      local holder = redis.call('HGET', KEYS[1], node)
      if holder ~= room then
        local other = holder and redis.call('GET', ARGV[1] .. holder)
        if other and parse(other) == node then
          conflicts[#conflicts + 1] = room
        else
          redis.call('HSET', KEYS[1], node, room)
          adopted[#adopted + 1] = room
        end
      end
    end
  end
end
local out = adopted
out[#out + 1] = ''
for _, r in ipairs(conflicts) do out[#out + 1] = r end
return out
`
