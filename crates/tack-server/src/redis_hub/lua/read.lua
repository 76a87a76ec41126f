-- Where a channel is: {newest id, history floor, kept entries after `after`}.
-- ARGV 6: after.
local n = newest()
if type(n) == 'table' then
  return n
end
local fl, entries = history(tonumber(ARGV[6]), n)
return {n, fl, entries}
