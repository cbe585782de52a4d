-- fleetscale media: set fields of an existing gateway entry (never creates one).
-- KEYS[1] <prefix>gw:<id>   ARGV field, value pairs ('' deletes the field)
-- Returns 1 if the entry exists, 0 otherwise.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
for i = 1, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
