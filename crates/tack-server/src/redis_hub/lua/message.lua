-- A chat message from a member; returns {id, 1 if this cid was accepted before}, or {-1, 0}
-- when the sender is not in the room.
-- ARGV 6..: member, cid ('' = none), head, body.
local n = newest()
if type(n) == 'table' then
  return n
end
local member, cid = ARGV[6], ARGV[7]
if not redis.call('ZSCORE', KEYS[4], member) then
  return {-1, 0}
end
if cid ~= '' then
  local old = redis.call('ZSCORE', KEYS[3], cid)
  if old then
    return {tonumber(old), 1}
  end
end
local id = append(n, ARGV[8], ARGV[9], nil)
if cid ~= '' then
  redis.call('ZADD', KEYS[3], id, cid)
  -- Remembered as long as the message is in history, as on one node.
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', floor(id))
  redis.call('PEXPIRE', KEYS[3], AGE)
end
return {id, 0}
