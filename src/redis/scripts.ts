/**
 * The shared state is one hash: `tokens` (the token set as JSON; absent after a sign-out) and `generation`, the
 * fencing token, raised by every write (no hash: nothing written yet). Each write is one script, so its checks and the write are atomic.
 */

/** `[tokens JSON | nil, generation | nil]`. */
export const readState = `return redis.call('HMGET', KEYS[1], 'tokens', 'generation')`;

/**
 * Write the tokens (`ARGV[3]`, '' for signed out) and raise the generation past both the stored one and `ARGV[4]`
 * (the highest this holder has seen, so that generations keep rising after Redis lost the key). Refused with -1 when
 * `ARGV[1]` is set and no longer holds the lock `KEYS[2]`; with -2 when `ARGV[2]` is set and another write came
 * after that generation was read (a missing key passes: Redis restarted empty). Returns the new generation.
 */
export const writeState = `
local current = redis.call('HGET', KEYS[1], 'generation')
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
if ARGV[2] ~= '' and current and tonumber(current) ~= tonumber(ARGV[2]) then return -2 end
local generation = math.max(tonumber(current or '0'), tonumber(ARGV[4])) + 1
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], 'tokens')
else
  redis.call('HSET', KEYS[1], 'tokens', ARGV[3])
end
redis.call('HSET', KEYS[1], 'generation', generation)
return generation
`;
