-- KEYS 1: the nick's key. ARGV: owner. Frees the nick if the owner holds it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0
