-- A node's members of a room are still there. Returns the members it named that were not
-- (another node removed them while this one could not reach Redis): they enter again,
-- announced, so every node's presence agrees.
-- ARGV 6..: presence ttl (ms), room as JSON, reap ('1': expired members leave), then pairs
-- of member and nick.
local n = newest()
if type(n) == 'table' then
  return n
end
local ttl, room_json, reap_now = tonumber(ARGV[6]), ARGV[7], ARGV[8]
local now = now_ms()
local back = {}
for i = 9, #ARGV, 2 do
  local member, nick = ARGV[i], ARGV[i + 1]
  if redis.call('ZADD', KEYS[4], now + ttl, member) == 1 then
    redis.call('HSET', KEYS[5], member, nick)
    local json = '{"type":"chatRoomEnter","id":' .. (n + 1) .. ',"room":' .. room_json
      .. ',"user":' .. cjson.encode(nick) .. ',"viewers":' .. redis.call('ZCARD', KEYS[4])
      .. ',"ts":' .. now .. '}'
    n = append(n, now .. '|' .. NODE .. '|0|0:|c', json, nil)
    back[#back + 1] = member
  end
end
if reap_now == '1' then
  reap(n, now, room_json)
end
return back
