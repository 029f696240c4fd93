#pragma once
// The Lua scripts that make every call transition atomic in Redis, so two dispatcher instances
// (or two copies of one alarm, or two operators pressing "take" together) cannot race.
// Internal to call_store / presence; keys are documented in README.md ("Data in Redis").
//
// Keys are built inside the scripts from the call / device id; this works on a single Redis
// (and with Sentinel), not on Redis Cluster, which anxin does not target.

namespace anxin::dispatcher::lua {

// Every script starts with this: `now` is Redis's clock in ms (one clock for all instances), as a
// string because Redis formats Lua numbers as floats ("1.7e+12").
inline constexpr const char* prelude = R"lua(
local t = redis.call('TIME')
local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
local function history(id, event, actor, instance, detail)
  redis.call('RPUSH', 'anx:call:' .. id .. ':history', cjson.encode({
    time_ms = tonumber(now), event = event, actor = actor, instance = instance, detail = detail}))
end
local function count(from, to)
  if from then redis.call('HINCRBY', 'anx:stats:calls_by_state', from, -1) end
  if to then redis.call('HINCRBY', 'anx:stats:calls_by_state', to, 1) end
end
)lua";

// KEYS: none. ARGV: device, seq, type, device_time_ms, battery, resident, instance
// -> {call_id, 1 if created / 0 if duplicate, received_ms}
inline constexpr const char* ingest = R"lua(
local device, seq = ARGV[1], ARGV[2]
local dedupe = 'anx:dedupe:' .. device .. ':' .. seq
local existing = redis.call('GET', dedupe)
if existing then
  return {existing, 0, redis.call('HGET', 'anx:call:' .. existing, 'received_ms') or now}
end
local id = string.format('C%07d', redis.call('INCR', 'anx:call:next'))
local key = 'anx:call:' .. id
redis.call('HSET', key, 'id', id, 'state', 'received', 'device', device, 'seq', seq,
  'type', ARGV[3], 'device_time_ms', ARGV[4], 'battery', ARGV[5], 'resident', ARGV[6],
  'received_ms', now)
history(id, 'received', 'device:' .. device, ARGV[7], ARGV[3])
count(nil, 'received')
redis.call('ZADD', 'anx:calls:open', now, id)
redis.call('ZADD', 'anx:device:' .. device .. ':open', now, id)
-- Sequence numbers of a device are remembered for 30 days: a device re-sending older than that
-- is not a retry but a reset counter.
redis.call('SET', dedupe, id, 'EX', 2592000)
redis.call('XADD', 'anx:alarms', '*', 'call', id)
return {id, 1, now}
)lua";

// ARGV: call, expected_state, station, station_name, distance_km, instance, op...
// -> {'ok', device, resident, received_ms, previous offered ops...} | {'state', actual} | {'missing'}
inline constexpr const char* offer = R"lua(
local id = ARGV[1]
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'device', 'resident', 'received_ms', 'station')
if not f[1] then return {'missing'} end
if f[1] ~= ARGV[2] then return {'state', f[1]} end
if f[5] then redis.call('SREM', 'anx:station:' .. f[5] .. ':offered', id) end
local previous = redis.call('SMEMBERS', key .. ':offers')
redis.call('DEL', key .. ':offers')
for i = 7, #ARGV do redis.call('SADD', key .. ':offers', ARGV[i]) end
redis.call('HSET', key, 'state', 'offered', 'station', ARGV[3], 'station_name', ARGV[4],
  'distance_km', ARGV[5], 'offered_ms', now)
redis.call('ZREM', 'anx:calls:waiting', id)
redis.call('SADD', 'anx:station:' .. ARGV[3] .. ':offered', id)
history(id, 'offered', 'router', ARGV[6], ARGV[3] .. ' ' .. table.concat(ARGV, ',', 7))
if f[1] ~= 'offered' then count(f[1], 'offered') end
local out = {'ok', f[2], f[3], f[4]}
for _, op in ipairs(previous) do table.insert(out, op) end
return out
)lua";

// ARGV: call, station, operator, instance: an operator who logs in at a station joins the offers
// of the calls already on offer there. -> {'ok'} | {'state', s}
inline constexpr const char* join_offer = R"lua(
local id = ARGV[1]
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'station')
if f[1] ~= 'offered' or f[2] ~= ARGV[2] then return {'state', f[1] or 'missing'} end
if redis.call('SADD', key .. ':offers', ARGV[3]) == 1 then
  history(id, 'offered', 'router', ARGV[4], ARGV[2] .. ' +' .. ARGV[3])
end
return {'ok'}
)lua";

// ARGV: call, instance. Marks a call as waiting for any operator to come online.
inline constexpr const char* wait = R"lua(
local id = ARGV[1]
local key = 'anx:call:' .. id
local state = redis.call('HGET', key, 'state')
if state ~= 'received' then return {'state', state or 'missing'} end
if redis.call('ZADD', 'anx:calls:waiting', 'NX', now, id) == 1 then
  history(id, 'waiting', 'router', ARGV[2], 'no operator online')
end
return {'ok'}
)lua";

// ARGV: call, operator, instance
// -> {'ok', device, station_name, other offered ops...} | {'taken', by} | {'not_offered'} |
//    {'missing'} | {'state', s}
inline constexpr const char* accept = R"lua(
local id, op = ARGV[1], ARGV[2]
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'device', 'station_name', 'operator', 'station')
if not f[1] then return {'missing'} end
if f[1] == 'accepted' or f[1] == 'closed' then return {'taken', f[4] or ''} end
if f[1] ~= 'offered' then return {'state', f[1]} end
if redis.call('SISMEMBER', key .. ':offers', op) == 0 then return {'not_offered'} end
redis.call('HSET', key, 'state', 'accepted', 'operator', op, 'accepted_ms', now)
local others = redis.call('SMEMBERS', key .. ':offers')
redis.call('DEL', key .. ':offers')
redis.call('SREM', 'anx:station:' .. f[5] .. ':offered', id)
redis.call('SADD', 'anx:operator:' .. op .. ':calls', id)
history(id, 'accepted', 'operator:' .. op, ARGV[3], '')
count('offered', 'accepted')
local out = {'ok', f[2], f[3] or ''}
for _, o in ipairs(others) do if o ~= op then table.insert(out, o) end end
return out
)lua";

// ARGV: call, operator, outcome, note, instance -> {'ok', device} | {'not_yours', op} |
//       {'state', s} | {'missing'}
inline constexpr const char* close = R"lua(
local id, op = ARGV[1], ARGV[2]
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'device', 'operator')
if not f[1] then return {'missing'} end
if f[1] ~= 'accepted' then return {'state', f[1]} end
if f[3] ~= op then return {'not_yours', f[3] or ''} end
redis.call('HSET', key, 'state', 'closed', 'closed_ms', now, 'outcome', ARGV[3])
if ARGV[4] ~= '' then
  redis.call('RPUSH', key .. ':notes', cjson.encode({time_ms = tonumber(now), operator_id = op, text = ARGV[4]}))
end
redis.call('ZREM', 'anx:calls:open', id)
redis.call('ZREM', 'anx:device:' .. f[2] .. ':open', id)
redis.call('SREM', 'anx:operator:' .. op .. ':calls', id)
history(id, 'closed', 'operator:' .. op, ARGV[5], ARGV[3])
count('accepted', 'closed')
return {'ok', f[2]}
)lua";

// ARGV: call, operator, text, instance -> {'ok', time_ms} | {'missing'}
inline constexpr const char* note = R"lua(
local id, op = ARGV[1], ARGV[2]
local key = 'anx:call:' .. id
if redis.call('EXISTS', key) == 0 then return {'missing'} end
redis.call('RPUSH', key .. ':notes', cjson.encode({time_ms = tonumber(now), operator_id = op, text = ARGV[3]}))
history(id, 'note', 'operator:' .. op, ARGV[4], ARGV[3])
return {'ok', now}
)lua";

// ARGV: device, call (may be empty: the device's newest open call), instance
// -> {'ok', call, state, operator, station, cancelled_ms} | {'none'}
inline constexpr const char* cancel = R"lua(
local device, id = ARGV[1], ARGV[2]
if id == '' then
  local newest = redis.call('ZREVRANGE', 'anx:device:' .. device .. ':open', 0, 0)
  if #newest == 0 then return {'none'} end
  id = newest[1]
end
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'device', 'operator', 'station', 'cancelled_ms')
if not f[1] or f[2] ~= device or f[1] == 'closed' then return {'none'} end
if not f[5] then
  redis.call('HSET', key, 'cancelled_ms', now)
  history(id, 'cancelled', 'device:' .. device, ARGV[3], '')
  f[5] = now
end
return {'ok', id, f[1], f[3] or '', f[4] or '', f[5]}
)lua";

// ARGV: member ("station/operator"), lease_ms -> now
inline constexpr const char* presence_refresh = R"lua(
redis.call('ZADD', 'anx:presence', tonumber(now) + tonumber(ARGV[2]), ARGV[1])
return now
)lua";

// -> {now, member...}: operators whose lease has not run out (expired ones are dropped).
inline constexpr const char* presence_online = R"lua(
redis.call('ZREMRANGEBYSCORE', 'anx:presence', '-inf', '(' .. now)
local out = redis.call('ZRANGE', 'anx:presence', 0, -1)
table.insert(out, 1, now)
return out
)lua";

}  // namespace anxin::dispatcher::lua
