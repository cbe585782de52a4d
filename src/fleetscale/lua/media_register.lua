-- fleetscale media: register (or update) a gateway.
-- KEYS[1] <prefix>gateways  KEYS[2] <prefix>gw:<id>
-- ARGV[1] gateway id  ARGV[2] state if the entry is new  ARGV[3..] field, value pairs to set
-- An existing entry keeps its state (a registration never undoes a drain).
-- Returns 1 if the entry is new, 0 if it was updated. A new entry is published on
-- <prefix>events as 'register <id>' (the prefix is KEYS[1] without 'gateways').
local new = redis.call('EXISTS', KEYS[2]) == 0
if new then
  redis.call('HSET', KEYS[2], 'state', ARGV[2])
end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[2], ARGV[i])
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
redis.call('SADD', KEYS[1], ARGV[1])
if new then
  redis.call('PUBLISH', string.sub(KEYS[1], 1, -9) .. 'events', 'register ' .. ARGV[1])
  return 1
end
return 0
