/**
 * The status snapshot's scripts. One slug is three keys in one hash slot:
 * `rg:status:{slug}` {version, fetchedAt}, `rg:status:{slug}:units` (unit →
 * status) and `rg:status:{slug}:log`, the changes of the last versions
 * (newest first, `version\nJSON`), so an instance that holds an older version
 * fetches what changed instead of every unit.
 */

/**
 * KEYS[1] meta hash   KEYS[2] units hash   KEYS[3] change log
 * ARGV[1] expected version (0: none stored)   ARGV[2] fetchedAt   ARGV[3] bump (1/0)   ARGV[4] ttl ms
 * ARGV[5] log length cap   ARGV[6] the change as JSON, '' when it is not logged (too big, or a whole write)
 * ARGV[7] 'whole' (the units replace what is stored) or 'changes'   ARGV[8] n: units set
 * then n pairs unit, status; then the units gone.
 * Returns the new version, or -1 when the stored version is not the expected one.
 *
 * A new snapshot starts at Redis' clock in ms, not at 1: after Redis lost the
 * keys (a restart without persistence, the TTL), versions still go up, so
 * instances never take new statuses for ones they parsed under the same
 * number, and open streams never drop updates as already seen.
 */
export const PUT_LUA = `
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
local version = current
if current == 0 then
  local t = redis.call('TIME')
  version = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
elseif ARGV[3] == '1' then
  version = current + 1
end
if ARGV[7] == 'whole' then redis.call('DEL', KEYS[2]) end
local n = tonumber(ARGV[8])
local first, last = 9, 8 + 2 * n
-- In slices: unpack() of a whole snapshot would pass Lua's stack limit.
for i = first, last, 1000 do
  redis.call('HSET', KEYS[2], unpack(ARGV, i, math.min(i + 999, last)))
end
for i = last + 1, #ARGV, 1000 do
  redis.call('HDEL', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('HSET', KEYS[1], 'version', string.format('%.0f', version), 'fetchedAt', ARGV[2])
if version ~= current then
  if ARGV[6] == '' then
    redis.call('DEL', KEYS[3])
  else
    redis.call('LPUSH', KEYS[3], string.format('%.0f', version) .. '\\n' .. ARGV[6])
    redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
  end
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return version
`

/**
 * KEYS[1] meta hash   KEYS[2] units hash   KEYS[3] change log
 * ARGV[1] the version the caller holds (0: none)   ARGV[2] log length cap
 * Returns {} when nothing is stored; else {version, fetchedAt, kind, list}:
 * kind 'same' (the caller's version is current, no list), 'log' and the log
 * entries from the caller's version to the current one (newest first,
 * consecutive), or 'whole' and every unit and status, flat.
 */
export const READ_LUA = `
local meta = redis.call('HMGET', KEYS[1], 'version', 'fetchedAt')
if not meta[1] then return {} end
local version = tonumber(meta[1])
local known = tonumber(ARGV[1])
if known == version then return {meta[1], meta[2], 'same'} end
local behind = version - known
if known > 0 and behind > 0 and behind <= tonumber(ARGV[2]) then
  local entries = redis.call('LRANGE', KEYS[3], 0, behind - 1)
  local whole = #entries ~= behind
  for i = 1, #entries do
    if whole then break end
    local v = tonumber(string.match(entries[i], '^(%d+)\\n'))
    whole = v ~= version - i + 1
  end
  if not whole then return {meta[1], meta[2], 'log', entries} end
end
return {meta[1], meta[2], 'whole', redis.call('HGETALL', KEYS[2])}
`
