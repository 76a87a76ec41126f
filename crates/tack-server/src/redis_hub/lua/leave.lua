-- A member leaves a room; returns the leave's id, or 0 when it was not there.
-- ARGV 6..: member, head, body.
local n = newest()
if type(n) == 'table' then
  return n
end
local member = ARGV[6]
if redis.call('ZREM', KEYS[4], member) == 0 then
  return 0
end
redis.call('HDEL', KEYS[5], member)
return append(n, ARGV[7], ARGV[8], redis.call('ZCARD', KEYS[4]))
