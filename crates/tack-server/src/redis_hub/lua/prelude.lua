-- Shared by every script that numbers a channel's events (prepended by scripts.rs).
--
-- KEYS: 1 meta hash (e = epoch, n = newest id), 2 history stream, 3 cids zset,
--       4 presence zset (member -> expiry ms), 5 nicks hash (member -> nick),
--       6 the announcement channel (a key here so a cluster routes and checks its slot).
-- ARGV: 1 the caller's epoch, 2 history length, 3 history age (ms), 4 PUBLISH or SPUBLISH,
--       5 the caller's node id; each script's own arguments follow.
local EPOCH, LEN, AGE, PUB, NODE = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]

local ID_PH = '"id":18446744073709551615'
local VIEWERS_PH = '"viewers":4294967295'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The channel's newest id, creating the channel. Epochs are fixed-width hex that grow with
-- time: a channel counted in an older epoch starts again in the caller's; a caller with an
-- older epoch than the channel's is told (an error reply) and must learn the new one.
local function newest()
  local meta = redis.call('HMGET', KEYS[1], 'e', 'n')
  local e, n = meta[1], meta[2]
  if not e or e < EPOCH then
    redis.call('DEL', KEYS[2], KEYS[3])
    redis.call('HSET', KEYS[1], 'e', EPOCH, 'n', 0)
    return 0
  end
  if e ~= EPOCH then
    return redis.error_reply('TACKEPOCH ' .. e)
  end
  return tonumber(n)
end

local function subst(body, pattern, value)
  local s, e = string.find(body, pattern, 1, true)
  if not s then
    return body
  end
  return string.sub(body, 1, s - 1) .. value .. string.sub(body, e + 1)
end

-- Numbers one event after `n`, keeps it in history and announces it to every node.
local function append(n, head, body, viewers)
  local id = n + 1
  if string.sub(head, -1) == 'c' then
    body = subst(body, ID_PH, '"id":' .. id)
    if viewers then
      body = subst(body, VIEWERS_PH, '"viewers":' .. viewers)
    end
  end
  local entry = id .. '|' .. head .. body
  redis.call('HSET', KEYS[1], 'n', id)
  redis.call('XADD', KEYS[2], 'MAXLEN', LEN, id .. '-0', 'e', entry)
  redis.call('PEXPIRE', KEYS[2], AGE)
  redis.call(PUB, KEYS[6], entry)
  return id
end

-- Every id at or below this is no longer in history.
local function floor(n)
  local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
  if #first == 0 then
    return n
  end
  return tonumber(string.match(first[1][1], '^(%d+)')) - 1
end

-- The floor, and the kept entries with after < id <= n, oldest first.
local function history(after, n)
  local fl = floor(n)
  local from = math.max(after, fl)
  if from >= n then
    return fl, {}
  end
  local rows = redis.call('XRANGE', KEYS[2], '(' .. from .. '-0', n .. '-0', 'COUNT', LEN)
  local entries = {}
  for i, row in ipairs(rows) do
    entries[i] = row[2][2]
  end
  return fl, entries
end

-- Members whose presence expired leave the room, each leave numbered and announced once.
local function reap(n, now, room_json)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
  for _, member in ipairs(gone) do
    local nick = redis.call('HGET', KEYS[5], member)
    redis.call('ZREM', KEYS[4], member)
    redis.call('HDEL', KEYS[5], member)
    local viewers = redis.call('ZCARD', KEYS[4])
    local json = '{"type":"chatRoomLeave","id":' .. (n + 1) .. ',"room":' .. room_json
      .. ',"user":' .. cjson.encode(nick or '') .. ',"viewers":' .. viewers .. ',"ts":' .. now .. '}'
    n = append(n, now .. '|' .. NODE .. '|0|0:|c', json, nil)
  end
  return n
end
