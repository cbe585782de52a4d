-- fleetscale media: change a gateway's state (drain = 'draining', cancel = 'ready').
-- Atomic with respect to media_place.lua: placements before it may land on the gateway,
-- placements after it cannot. Never creates an entry for a gateway that is not registered.
-- KEYS[1] <prefix>gw:<id>  KEYS[2] <prefix>gw:<id>:rooms  KEYS[3] <prefix>clock
-- ARGV[1] new state  ARGV[2..] states it may change from
-- Returns {status, rooms, clock value, previous state}:
--   status 1 changed (or already there), 0 refused (previous state not allowed), -1 not registered
-- A change is published on <prefix>events as 'state <id> <new state>' (the prefix is KEYS[3]
-- without 'clock').
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {-1, 0, 0, ''}
end
local previous = redis.call('HGET', KEYS[1], 'state') or ''
local rooms = redis.call('SCARD', KEYS[2])
if previous == ARGV[1] then
  return {1, rooms, tonumber(redis.call('HGET', KEYS[1], 'state_seq') or '0') or 0, previous}
end
local allowed = false
for i = 2, #ARGV do
  if ARGV[i] == previous then allowed = true end
end
if not allowed then
  return {0, rooms, 0, previous}
end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'state_seq', seq)
local prefix = string.sub(KEYS[3], 1, -6)
redis.call('PUBLISH', prefix .. 'events', 'state ' .. string.sub(KEYS[1], #prefix + 4) .. ' ' .. ARGV[1])
return {1, rooms, seq, previous}
