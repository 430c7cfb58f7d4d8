/**
 * The stream history scripts. A stream is two keys sharing the stream's name
 * as hash tag: `rg:hist:{<stream>}` (list of frames, newest first, at most
 * `size`, expiring `ttl` after its last event) and `rg:hist:{<stream>}:meta`
 * (hash {epoch, top}, expiring `metaTtl` after its last use).
 */

/**
 * PUBLISH. Appends one event to each stream, then publishes the bus message
 * (with PUBLISH, or SPUBLISH on a Redis Cluster: the channel is then in the
 * streams' slot). Each position names its stream: `[epoch, offset, stream]`.
 * KEYS: [idempotency key when ARGV[1] = 1], then list, meta per stream
 * ARGV: hasKey, channel, header, body, size, ttlMs, metaTtlMs, newEpoch, keyTtlMs, publish command, then each stream's name as JSON
 * Returns: the publish count, or false for a duplicate key.
 */
export const PUBLISH = `
local k = 1
if ARGV[1] == '1' then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[9]) then return false end
  k = 2
end
local body, size, ttl, metaTtl = ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local head = string.sub(body, 1, -2) .. ',"stream":'
local positions = {}
for i = 11, #ARGV do
  local list, meta = KEYS[k], KEYS[k + 1]
  k = k + 2
  local epoch = redis.call('HGET', meta, 'epoch')
  if not epoch then
    epoch = ARGV[8]
    redis.call('HSET', meta, 'epoch', epoch, 'top', 0)
  end
  local offset = redis.call('HINCRBY', meta, 'top', 1)
  redis.call('LPUSH', list, head .. ARGV[i] .. ',"offset":' .. string.format('%d', offset) .. '}')
  redis.call('LTRIM', list, 0, size - 1)
  redis.call('PEXPIRE', list, ttl)
  redis.call('PEXPIRE', meta, metaTtl)
  positions[#positions + 1] = '["' .. epoch .. '",' .. string.format('%d', offset) .. ',' .. ARGV[i] .. ']'
end
return redis.call(ARGV[10], ARGV[2], ARGV[3] .. '\\n[' .. table.concat(positions, ',') .. ']\\n' .. body)
`

/**
 * READ. A stream's position and the frames after an offset. (A position ahead
 * of the top is not recovered; it does not change the epoch either: a client
 * could then reset `all` for everyone.)
 * KEYS: list, meta
 * ARGV: newEpoch, metaTtlMs, sinceEpoch ('' = none), sinceOffset
 * Returns: {epoch, top, recovered (0/1), frames… newest first}
 */
export const READ = `
local epoch, top = unpack(redis.call('HMGET', KEYS[2], 'epoch', 'top'))
if not epoch then
  epoch, top = ARGV[1], 0
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
top = tonumber(top)
local since = tonumber(ARGV[4])
if ARGV[3] ~= epoch or since > top then return {epoch, top, 0} end
local missed = top - since
if missed == 0 then return {epoch, top, 1} end
local frames = redis.call('LRANGE', KEYS[1], 0, missed - 1)
if #frames < missed then return {epoch, top, 0} end
local out = {epoch, top, 1}
for i = 1, #frames do out[i + 3] = frames[i] end
return out
`
