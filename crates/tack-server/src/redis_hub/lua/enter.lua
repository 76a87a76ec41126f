-- A member enters a room (announced unless it was there already); returns what its session
-- needs: {last id before the enter, the enter's id (0: none), viewers, history floor (-1:
-- no replay asked), nicks, replayed entries}.
-- ARGV 6..: member, nick, presence ttl (ms), room as JSON, head, body, since ('' = none),
-- reap ('1': expired members leave first).
local n = newest()
if type(n) == 'table' then
  return n
end
local member, nick, ttl, room_json = ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9]
local head, body, since, reap_now = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local now = now_ms()
if reap_now == '1' then
  n = reap(n, now, room_json)
end
local added = redis.call('ZADD', KEYS[4], now + ttl, member)
redis.call('HSET', KEYS[5], member, nick)
local viewers = redis.call('ZCARD', KEYS[4])
local last = n
local own = 0
if added == 1 then
  own = append(n, head, body, viewers)
end
local users = redis.call('HVALS', KEYS[5])
local fl, entries = -1, {}
if since ~= '' then
  fl, entries = history(tonumber(since), last)
end
return {last, own, viewers, fl, users, entries}
