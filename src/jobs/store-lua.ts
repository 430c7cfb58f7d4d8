/**
 * The job store's atomic steps in Redis. Times are Redis' clock (ms); numbers
 * are written with %.0f so big integers never turn into exponent form.
 * Job hash fields: status, createdAt, startedAt, completedAt, error,
 * totalFiles, totalBytes, completedFiles, completedBytes, failedFiles,
 * throughputBps, throughputAt, owner.
 */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(x) return string.format('%.0f', x) end
`

/**
 * KEYS[1] job hash   KEYS[2] files list   KEYS[3] rg:jobs   KEYS[4] rg:jobs:queue
 * ARGV[1] id   ARGV[2] most jobs pending or running ('' = no cap)   then the hash's fields and values (createdAt is set here)
 * Creates the job unless the queue already holds ARGV[2] jobs. The count and the
 * insert are one step: instances creating at once can never pass the cap together.
 * Returns createdAt (Redis' clock, ms), or false when the queue is full (the files list is then deleted).
 */
export const CREATE_LUA = `${NOW}
if ARGV[2] ~= '' and redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[2])
  return false
end
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[1], 'createdAt', int(now), unpack(ARGV, 3))
redis.call('ZADD', KEYS[3], int(now), ARGV[1])
redis.call('ZADD', KEYS[4], int(now), ARGV[1])
return now
`

/**
 * KEYS[1] rg:jobs:queue   ARGV[1] job key prefix   ARGV[2] owner   ARGV[3] lease ms
 * Claims the job with the lowest claim time that has come (oldest pending, or a
 * running job whose lease ended). Returns its id, or false.
 */
export const CLAIM_LUA = `${NOW}
for _ = 1, 10 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
  local id = ids[1]
  if not id then return false end
  local key = ARGV[1] .. id
  local status = redis.call('HGET', key, 'status')
  if status == 'pending' or status == 'running' then
    redis.call('ZADD', KEYS[1], int(now + tonumber(ARGV[3])), id)
    redis.call('HSET', key, 'status', 'running', 'owner', ARGV[2])
    if redis.call('HGET', key, 'startedAt') == '' then redis.call('HSET', key, 'startedAt', int(now)) end
    return id
  end
  redis.call('ZREM', KEYS[1], id)
end
return false
`

/**
 * KEYS[1] job hash   KEYS[2] done bitmap   KEYS[3] rg:jobs:queue
 * ARGV[1] id   ARGV[2] owner   ARGV[3] lease ms   ARGV[4] throughput bps ('' none)   ARGV[5] measured at
 * ARGV[6] bytes read of the files still being read, then triples: index, ok (1/0), bytes.
 * Returns 1, or 0 when the job is no longer this owner's running job.
 */
export const PROGRESS_LUA = `${NOW}
if redis.call('HGET', KEYS[1], 'status') ~= 'running' or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then return 0 end
local total = tonumber(redis.call('HGET', KEYS[1], 'totalFiles'))
local files, bytes, failed = 0, 0, 0
for i = 7, #ARGV, 3 do
  local index = tonumber(ARGV[i])
  if index < total and redis.call('SETBIT', KEYS[2], index, 1) == 0 then
    if ARGV[i + 1] == '1' then
      files = files + 1
      bytes = bytes + tonumber(ARGV[i + 2])
    else
      failed = failed + 1
    end
  end
end
if files > 0 then redis.call('HINCRBY', KEYS[1], 'completedFiles', files) end
if bytes > 0 then redis.call('HINCRBY', KEYS[1], 'completedBytes', bytes) end
if failed > 0 then redis.call('HINCRBY', KEYS[1], 'failedFiles', failed) end
redis.call('HSET', KEYS[1], 'partialBytes', ARGV[6])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'throughputBps', ARGV[4], 'throughputAt', ARGV[5]) end
redis.call('ZADD', KEYS[3], 'XX', int(now + tonumber(ARGV[3])), ARGV[1])
return 1
`

/**
 * KEYS[1] job hash   KEYS[2] files list   KEYS[3] done bitmap   KEYS[4] rg:jobs:queue
 * ARGV[1] id   ARGV[2] new status   ARGV[3] error   ARGV[4] retention ms
 * ARGV[5] owner: '' = cancel (any pending or running job), else finish (only the owner's running job).
 * Returns '+<new status>' when this call ended the job, else the status it already had; false when unknown.
 */
export const END_LUA = `${NOW}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if ARGV[5] == '' then
  if status ~= 'pending' and status ~= 'running' then return status end
elseif status ~= 'running' or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[5] then
  return status
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'error', ARGV[3], 'owner', '', 'completedAt', int(now))
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return '+' .. ARGV[2]
`

/** KEYS[1] job hash   KEYS[2] rg:jobs:queue   ARGV[1] id   ARGV[2] owner: makes the owner's running job claimable now. */
export const RELEASE_LUA = `
if redis.call('HGET', KEYS[1], 'status') == 'running' and redis.call('HGET', KEYS[1], 'owner') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'owner', '')
  redis.call('ZADD', KEYS[2], 'XX', 0, ARGV[1])
end
return 1
`
