-- fleetscale media: remove a gateway (its instance is gone) with its room assignments.
-- KEYS[1] <prefix>gateways  KEYS[2] <prefix>rooms  KEYS[3] <prefix>participants
-- KEYS[4] <prefix>gw:<id>   KEYS[5] <prefix>gw:<id>:rooms
-- ARGV[1] gateway id  ARGV[2] '1' = only if it holds no room
-- Returns the number of rooms it held (they are released), or -1 if refused (ARGV[2] = '1'
-- and rooms remain). A removal is published on <prefix>events as 'deregister <id>'.
local rooms = redis.call('SMEMBERS', KEYS[5])
if ARGV[2] == '1' and #rooms > 0 then
  return -1
end
for _, room in ipairs(rooms) do
  if redis.call('HGET', KEYS[2], room) == ARGV[1] then
    redis.call('HDEL', KEYS[2], room)
    redis.call('HDEL', KEYS[3], room)
  end
end
redis.call('DEL', KEYS[4], KEYS[5])
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('PUBLISH', string.sub(KEYS[1], 1, -9) .. 'events', 'deregister ' .. ARGV[1])
return #rooms
