-- fleetscale media allocator: record a placed room's participant count.
-- KEYS[1] <prefix>rooms  KEYS[2] <prefix>participants
-- ARGV[1] room id  ARGV[2] participants (integer >= 0)
-- Returns 1, or 0 if the room is not placed (nothing is written then).
-- A change is published on <prefix>events (the prefix is KEYS[1] without 'rooms').
if not redis.call('HGET', KEYS[1], ARGV[1]) then
  return 0
end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('PUBLISH', string.sub(KEYS[1], 1, -6) .. 'events', 'participants ' .. ARGV[1])
end
return 1
