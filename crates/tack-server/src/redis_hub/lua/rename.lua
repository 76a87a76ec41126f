-- A member in a room changed nick; returns the nickChange's id, or 0 when it was not there.
-- ARGV 6..: member, new nick, head, body.
local n = newest()
if type(n) == 'table' then
  return n
end
local member = ARGV[6]
if not redis.call('ZSCORE', KEYS[4], member) then
  return 0
end
redis.call('HSET', KEYS[5], member, ARGV[7])
return append(n, ARGV[8], ARGV[9], nil)
