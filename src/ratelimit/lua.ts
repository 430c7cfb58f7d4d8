/**
 * Token bucket in one Lua script, so read-refill-take-write is atomic across
 * instances. Time comes from the Redis server (TIME), so instances with skewed
 * clocks still share one consistent bucket.
 *
 * KEYS[1]  bucket hash {tokens, ts}
 * ARGV[1]  rate: tokens per second (> 0)
 * ARGV[2]  burst: capacity (>= 1)
 * ARGV[3]  cost: tokens to take
 * Returns  {allowed (1|0), remaining whole tokens, retry-after ms (0 when allowed)}
 */
export const TAKE_TOKEN_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, math.floor(tokens), retry}
`
