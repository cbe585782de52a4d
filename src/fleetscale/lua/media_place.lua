-- fleetscale media allocator: place a room on the least loaded READY gateway.
-- Runs atomically in Redis, so it is ordered against media_set_state.lua (drain):
-- once a drain has committed, no placement can choose that gateway.
--
-- KEYS[1] <prefix>gateways   (set: gateway ids)
-- KEYS[2] <prefix>rooms      (hash: room -> gateway id)
-- KEYS[3] <prefix>clock      (counter)
-- ARGV[1] prefix   ARGV[2] room id   ARGV[3] default capacity (rooms per gateway)
--
-- Returns {gateway id, new (1/0), clock value, address}. gateway id '' = no room anywhere.
-- Idempotent: a room already placed on a registered gateway returns that gateway, new = 0.
-- A new placement is published on <prefix>events as 'place <gateway id>' (the media source's
-- watch turns it into an extra cycle of the pool).
local prefix, room = ARGV[1], ARGV[2]
local default_capacity = tonumber(ARGV[3])

local current = redis.call('HGET', KEYS[2], room)
if current then
  local gw = prefix .. 'gw:' .. current
  if redis.call('SISMEMBER', gw .. ':rooms', room) == 1 and redis.call('EXISTS', gw) == 1 then
    return {current, 0, 0, redis.call('HGET', gw, 'address') or ''}
  end
  redis.call('HDEL', KEYS[2], room)  -- its gateway is gone: place it again
end

local best, best_load = nil, nil
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local gw = prefix .. 'gw:' .. id
  local f = redis.call('HMGET', gw, 'state', 'capacity')
  if f[1] == 'ready' then
    local capacity = default_capacity
    if f[2] then capacity = tonumber(f[2]) end  -- a garbage capacity (nil) never takes rooms
    if capacity and capacity > 0 then
      local n = redis.call('SCARD', gw .. ':rooms')
      if n < capacity then
        local load = n / capacity
        if best == nil or load < best_load or (load == best_load and id < best) then
          best, best_load = id, load
        end
      end
    end
  end
end
if best == nil then
  return {'', 0, 0, ''}
end

local gw = prefix .. 'gw:' .. best
redis.call('SADD', gw .. ':rooms', room)
redis.call('HSET', KEYS[2], room, best)
local seq = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', prefix .. 'events', 'place ' .. best)
return {best, 1, seq, redis.call('HGET', gw, 'address') or ''}
