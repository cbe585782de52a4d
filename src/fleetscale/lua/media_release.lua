-- fleetscale media allocator: release a room (the conference ended).
-- KEYS[1] <prefix>rooms  KEYS[2] <prefix>participants  KEYS[3] <prefix>clock
-- ARGV[1] prefix  ARGV[2] room id
-- Returns {gateway id ('' if the room was not placed), clock value}. Idempotent.
-- A release is published on <prefix>events as 'release <gateway id>'.
local prefix, room = ARGV[1], ARGV[2]
local gateway = redis.call('HGET', KEYS[1], room)
if not gateway then
  return {'', 0}
end
redis.call('SREM', prefix .. 'gw:' .. gateway .. ':rooms', room)
redis.call('HDEL', KEYS[1], room)
redis.call('HDEL', KEYS[2], room)
local seq = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', prefix .. 'events', 'release ' .. gateway)
return {gateway, seq}
