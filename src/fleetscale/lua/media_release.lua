-- fleetscale media allocator: release a room (the conference ended).
-- KEYS[1] <prefix>rooms  KEYS[2] <prefix>participants  KEYS[3] <prefix>clock
-- ARGV[1] prefix  ARGV[2] room id
-- Returns {gateway id ('' if the room was not placed), clock value}. Idempotent.
local prefix, room = ARGV[1], ARGV[2]
local gateway = redis.call('HGET', KEYS[1], room)
if not gateway then
  return {'', 0}
end
redis.call('SREM', prefix .. 'gw:' .. gateway .. ':rooms', room)
redis.call('HDEL', KEYS[1], room)
redis.call('HDEL', KEYS[2], room)
return {gateway, redis.call('INCR', KEYS[3])}
