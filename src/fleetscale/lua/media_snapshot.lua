-- fleetscale media: a consistent read of every gateway of a pool.
-- KEYS[1] <prefix>gateways  KEYS[2] <prefix>participants
-- ARGV[1] prefix  ARGV[2] '1' = also sum participants per gateway
-- Returns a list of {id, {field, value, ...}, rooms, participants, bad participant values}.
local prefix = ARGV[1]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local gw = prefix .. 'gw:' .. id
  local participants, bad = 0, 0
  if ARGV[2] == '1' then
    local rooms = redis.call('SMEMBERS', gw .. ':rooms')
    for first = 1, #rooms, 500 do  -- in chunks: unpack() has a stack limit
      local last = math.min(first + 499, #rooms)
      for _, v in ipairs(redis.call('HMGET', KEYS[2], unpack(rooms, first, last))) do
        if v then
          local n = tonumber(v)
          if n and n >= 0 and n == math.floor(n) then participants = participants + n else bad = bad + 1 end
        end
      end
    end
  end
  table.insert(out, {id, redis.call('HGETALL', gw), redis.call('SCARD', gw .. ':rooms'), participants, bad})
end
return out
