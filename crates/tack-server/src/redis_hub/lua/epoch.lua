-- KEYS 1: the epoch key. ARGV: a new epoch, the epoch it replaces ('' = only if there is none).
-- Returns the epoch in force.
local e = redis.call('GET', KEYS[1])
if not e or (ARGV[2] ~= '' and e == ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return e
