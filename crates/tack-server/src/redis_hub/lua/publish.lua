-- An item for a channel from the publish API; returns its id.
-- ARGV 6..: head, body.
local n = newest()
if type(n) == 'table' then
  return n
end
return append(n, ARGV[6], ARGV[7], nil)
