#pragma once
// The Lua scripts that make every call transition atomic in Redis, so two dispatcher instances
// (or two copies of one alarm, or two operators pressing "take" together) cannot race.
// Internal to call_store; keys are documented in README.md ("Data in Redis").
//
// Every change to a call bumps its `ver` field. Decisions computed outside Redis (call_policy)
// are applied with the version they were computed from; a script finding another version does
// nothing and answers {'stale'}, and the caller decides again from fresh data.
//
// Keys are built inside the scripts from the call / device id; this works on a single Redis
// (and with Sentinel), not on Redis Cluster, which anxin does not target.

namespace anxin::dispatcher::lua {

// Every script starts with this: `now` is Redis's clock in ms (one clock for all instances), as a
// string because Redis formats Lua numbers as floats ("1.7e+12").
inline constexpr const char* prelude = R"lua(
local t = redis.call('TIME')
local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
local nown = tonumber(now)
local function history(id, event, actor, instance, detail)
  redis.call('RPUSH', 'anx:call:' .. id .. ':history', cjson.encode({
    time_ms = nown, event = event, actor = actor, instance = instance, detail = detail}))
end
local function count(from, to)
  if from then redis.call('HINCRBY', 'anx:stats:calls_by_state', from, -1) end
  if to then redis.call('HINCRBY', 'anx:stats:calls_by_state', to, 1) end
end
-- Takes a call off every operator's offer list.
local function clear_offers(id)
  local key = 'anx:call:' .. id .. ':offers'
  local ops = redis.call('SMEMBERS', key)
  for _, op in ipairs(ops) do redis.call('SREM', 'anx:op:' .. op .. ':offers', id) end
  redis.call('DEL', key)
  return ops
end
local function bump(key) return redis.call('HINCRBY', key, 'ver', 1) end
-- Closes a call nobody has taken (received or offered) with `outcome`: off every operator's offer
-- list and every index of waiting and open calls. Returns the operators it was on offer to.
local function close_waiting(id, device, outcome)
  local key = 'anx:call:' .. id
  redis.call('HSET', key, 'state', 'closed', 'closed_ms', now, 'outcome', outcome, 'next_esc_ms', 0)
  bump(key)
  local offered = clear_offers(id)
  redis.call('ZREM', 'anx:calls:open', id)
  redis.call('ZREM', 'anx:calls:active', id)
  redis.call('ZREM', 'anx:timers', id)
  redis.call('ZREM', 'anx:device:' .. device .. ':open', id)
  return offered
end
-- anx:calls:active is ordered by priority, then age: the most urgent waiting calls come first.
local function active_score(priority, received) return tonumber(priority) * 1e13 + tonumber(received) end
-- Operator runtime state: anx:opstate:<op> {status, active, wrap_until, idle_since, missed}
local function op_busy(op, delta)
  redis.call('HINCRBY', 'anx:opstate:' .. op, 'active', delta)
end
)lua";

// ARGV: device, seq, type, device_time_ms, battery, resident, instance, priority,
//       route ('' : queue it for the router | 'station' | 'cc'), station, station_name,
//       distance_km, due_after_ms, epoch ('' : none), replaces ('' | the call id the dedupe key
//       must still name), collision reason, operators offered...
// -> {'created', call_id, received_ms, 1 if routed / 0 if queued}
//  | {'seen', call_id, type, device_time_ms, received_ms, state, now}: the (epoch, sequence) is on
//    record for another call; the caller decides (press_identity) whether this is a re-send of it
//    or a new press, and for a new press calls again with `replaces` = that call id. The key
//    naming another call by then (another instance decided first) answers 'seen' again.
// With a route, the call is stored already at its first step (the fields, timer, offers and
// history the escalate and apply_offers scripts would write) instead of being queued.
inline constexpr const char* ingest = R"lua(
local device, seq, epoch, replaces = ARGV[1], ARGV[2], ARGV[14], ARGV[15]
local dedupe = 'anx:dedupe:' .. device .. ':' .. (epoch ~= '' and (epoch .. ':') or '') .. seq
local existing = redis.call('GET', dedupe)
if existing and existing ~= replaces then
  local f = redis.call('HMGET', 'anx:call:' .. existing, 'type', 'device_time_ms', 'received_ms', 'state')
  return {'seen', existing, f[1] or '', f[2] or '0', f[3] or '0', f[4] or '', now}
end
local id = string.format('C%07d', redis.call('INCR', 'anx:call:next'))
local key = 'anx:call:' .. id
local route = ARGV[9]
local routed = route == 'station' or route == 'cc'
local due = 0
if route == 'station' then due = string.format('%.0f', nown + tonumber(ARGV[13])) end
local fields = {'id', id, 'state', routed and 'offered' or 'received', 'device', device, 'seq', seq,
  'type', ARGV[3], 'device_time_ms', ARGV[4], 'battery', ARGV[5], 'resident', ARGV[6],
  'received_ms', now, 'priority', ARGV[8], 'ver', 1, 'tiers', route == 'station' and ARGV[10] or '',
  'cc', route == 'cc' and 1 or 0, 'next_esc_ms', due}
if epoch ~= '' then table.insert(fields, 'epoch') table.insert(fields, epoch) end
if routed then
  for _, v in ipairs({'routed_ms', now, 'station_name', ARGV[11]}) do table.insert(fields, v) end
end
if route == 'station' then
  for _, v in ipairs({'station', ARGV[10], 'distance_km', ARGV[12], 'offered_ms', now}) do
    table.insert(fields, v)
  end
end
redis.call('HSET', key, unpack(fields))
history(id, 'received', 'device:' .. device, ARGV[7], ARGV[3])
if replaces ~= '' then
  -- The device re-used a sequence for a new press (its counter was lost): supervisors see it on
  -- the call and as a count on the device.
  history(id, 'sequence_collision', 'device:' .. device, ARGV[7],
    'sequence ' .. seq .. ' was call ' .. replaces .. '; ' .. ARGV[16])
  redis.call('HINCRBY', 'anx:device:' .. device, 'sequence_collisions', 1)
end
redis.call('ZADD', 'anx:calls:open', now, id)
redis.call('ZADD', 'anx:calls:active', active_score(ARGV[8], nown), id)
redis.call('ZADD', 'anx:calls:by_time', now, id)
redis.call('ZADD', 'anx:device:' .. device .. ':open', now, id)
if ARGV[6] ~= '' then redis.call('ZADD', 'anx:resident:' .. ARGV[6] .. ':calls', now, id) end
-- A press is remembered for 30 days (a re-send comes within minutes, or hours after a power
-- cut); the newest press owns its sequence.
redis.call('SET', dedupe, id, 'EX', 2592000)
if not routed then
  count(nil, 'received')
  -- One queue per priority: the router drains emergencies first.
  redis.call('XADD', 'anx:alarms:' .. ARGV[8], '*', 'call', id)
  return {'created', id, now, 0}
end
count(nil, 'offered')
if route == 'cc' then
  history(id, 'escalated', 'router', ARGV[7], 'command centre')
else
  redis.call('ZADD', 'anx:timers', due, id)
  history(id, 'offered', 'router', ARGV[7], ARGV[10])
end
for i = 17, #ARGV do
  redis.call('SADD', key .. ':offers', ARGV[i])
  redis.call('SADD', 'anx:op:' .. ARGV[i] .. ':offers', id)
end
return {'created', id, now, 1}
)lua";

// First routing or an escalation step.
// ARGV: call, ver, kind ('station' | 'cc'), station, station_name, distance_km, next_esc_ms,
//       instance, missed_threshold, require_due ('1': the call's timer must be due)
// -> {'ok', device, new_ver, operators_set_away...} | {'stale'} | {'missing'}
inline constexpr const char* escalate = R"lua(
local id = ARGV[1]
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'ver', 'tiers', 'next_esc_ms', 'device', 'cc')
if not f[1] then return {'missing'} end
if (f[1] ~= 'received' and f[1] ~= 'offered') or f[2] ~= ARGV[2] then return {'stale'} end
if ARGV[10] == '1' and (tonumber(f[4]) == 0 or tonumber(f[4]) > nown) then return {'stale'} end
local away = {}
-- Everyone who had the offer and let the tier time out missed it (once per call).
if ARGV[10] == '1' then
  for _, op in ipairs(redis.call('SMEMBERS', key .. ':offers')) do
    local sk = 'anx:opstate:' .. op
    local missed = tonumber(redis.call('HGET', sk, 'missed') or '0')
    if redis.call('SADD', key .. ':missed', op) == 1 then missed = redis.call('HINCRBY', sk, 'missed', 1) end
    if missed >= tonumber(ARGV[9]) and redis.call('HGET', sk, 'status') == 'available' then
      redis.call('HSET', sk, 'status', 'away')
      table.insert(away, op)
    end
  end
end
-- When the call first reached a station or the command centre (reports, surge ordering).
if f[3] == '' and f[6] ~= '1' then redis.call('HSET', key, 'routed_ms', now) end
if ARGV[3] == 'cc' then
  redis.call('HSET', key, 'cc', 1, 'next_esc_ms', 0, 'station_name', ARGV[5])
  if f[1] == 'received' then redis.call('HSET', key, 'state', 'offered') count('received', 'offered') end
  redis.call('ZREM', 'anx:timers', id)
  history(id, 'escalated', 'router', ARGV[8], 'command centre')
else
  local tiers = f[3] == '' and ARGV[4] or (f[3] .. ',' .. ARGV[4])
  redis.call('HSET', key, 'tiers', tiers, 'next_esc_ms', ARGV[7], 'station_name', ARGV[5])
  if f[3] == '' then redis.call('HSET', key, 'station', ARGV[4], 'distance_km', ARGV[6], 'offered_ms', now) end
  if f[1] == 'received' then redis.call('HSET', key, 'state', 'offered') count('received', 'offered') end
  redis.call('ZADD', 'anx:timers', ARGV[7], id)
  history(id, f[3] == '' and 'offered' or 'escalated', 'router', ARGV[8], ARGV[4])
end
local v = bump(key)
local out = {'ok', f[5], tostring(v)}
for _, op in ipairs(away) do table.insert(out, op) end
return out
)lua";

// Sets who a waiting call is on offer to. ARGV: call, ver, op...
// -> {'ok', new_ver, '+', added..., '-', removed...} | {'stale'} | {'missing'}
inline constexpr const char* apply_offers = R"lua(
local id = ARGV[1]
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'ver')
if not f[1] then return {'missing'} end
if (f[1] ~= 'received' and f[1] ~= 'offered') or f[2] ~= ARGV[2] then return {'stale'} end
local okey = key .. ':offers'
local want = {}
for i = 3, #ARGV do want[ARGV[i]] = true end
local added, removed = {}, {}
for _, op in ipairs(redis.call('SMEMBERS', okey)) do
  if not want[op] then
    redis.call('SREM', okey, op)
    redis.call('SREM', 'anx:op:' .. op .. ':offers', id)
    table.insert(removed, op)
  end
  want[op] = nil
end
for op, _ in pairs(want) do
  redis.call('SADD', okey, op)
  redis.call('SADD', 'anx:op:' .. op .. ':offers', id)
  table.insert(added, op)
end
local v = f[2]
if #added > 0 or #removed > 0 then v = tostring(bump(key)) end
local out = {'ok', v, '+'}
for _, op in ipairs(added) do table.insert(out, op) end
table.insert(out, '-')
for _, op in ipairs(removed) do table.insert(out, op) end
return out
)lua";

// ARGV: call, operator, instance, supervisor ('1' may take any waiting call), max_calls
// -> {'ok', device, station_name, other offered ops...} | {'taken', by} | {'not_offered'} |
//    {'busy'} | {'missing'} | {'state', s}
inline constexpr const char* accept = R"lua(
local id, op = ARGV[1], ARGV[2]
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'device', 'station_name', 'operator')
if not f[1] then return {'missing'} end
if f[1] == 'accepted' or f[1] == 'closed' then return {'taken', f[4] or ''} end
if f[1] ~= 'offered' and f[1] ~= 'received' then return {'state', f[1]} end
if ARGV[4] ~= '1' and redis.call('SISMEMBER', key .. ':offers', op) == 0 then return {'not_offered'} end
if ARGV[4] ~= '1' and tonumber(redis.call('HGET', 'anx:opstate:' .. op, 'active') or '0') >= tonumber(ARGV[5]) then
  return {'busy'}
end
local prev = f[1]
redis.call('HSET', key, 'state', 'accepted', 'operator', op, 'accepted_ms', now, 'next_esc_ms', 0)
bump(key)
local offered = clear_offers(id)
redis.call('ZREM', 'anx:calls:active', id)
redis.call('ZREM', 'anx:timers', id)
redis.call('SADD', 'anx:operator:' .. op .. ':calls', id)
op_busy(op, 1)
redis.call('HSET', 'anx:opstate:' .. op, 'missed', 0)
history(id, 'accepted', 'operator:' .. op, ARGV[3], '')
count(prev, 'accepted')
local out = {'ok', f[2], f[3] or ''}
for _, o in ipairs(offered) do if o ~= op then table.insert(out, o) end end
return out
)lua";

// Only the operator holding the call closes it. The closing note may go past max_notes (a call is
// closed once, and a full notes list must never stop it being closed).
// ARGV: call, operator, outcome, note, instance, wrap_up_ms, max_note_bytes -> {'ok', device} |
//       {'not_yours', op} | {'state', s} | {'missing'} | {'too_long'}
inline constexpr const char* close = R"lua(
local id, op = ARGV[1], ARGV[2]
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'device', 'operator')
if not f[1] then return {'missing'} end
if f[1] ~= 'accepted' then return {'state', f[1]} end
if f[3] ~= op then return {'not_yours', f[3] or ''} end
if #ARGV[4] > tonumber(ARGV[7]) then return {'too_long'} end
redis.call('HSET', key, 'state', 'closed', 'closed_ms', now, 'outcome', ARGV[3])
bump(key)
if ARGV[4] ~= '' then
  redis.call('RPUSH', key .. ':notes', cjson.encode({time_ms = nown, operator_id = op, text = ARGV[4]}))
end
redis.call('ZREM', 'anx:calls:open', id)
redis.call('ZREM', 'anx:device:' .. f[2] .. ':open', id)
redis.call('SREM', 'anx:operator:' .. op .. ':calls', id)
op_busy(op, -1)
local free_at = nown + tonumber(ARGV[6])
redis.call('HSET', 'anx:opstate:' .. op, 'wrap_until', free_at, 'idle_since', free_at)
history(id, 'closed', 'operator:' .. op, ARGV[5], ARGV[3])
count('accepted', 'closed')
return {'ok', f[2]}
)lua";

// An operator gives a call back (logged out, vanished past the grace period) or hands it to
// another station, with a note for the next operator (checked before anything is written: a
// note too long, or one more than max_notes, refuses the whole transfer).
// ARGV: call, operator, instance, reason, station ('' keeps the tiers), station_name,
//       next_esc_ms, note ('' none), max_notes, max_note_bytes
// -> {'ok', device} | {'state', s} | {'not_yours', op} | {'missing'} | {'too_long'} |
//    {'too_many_notes'}
inline constexpr const char* release = R"lua(
local id, op = ARGV[1], ARGV[2]
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'device', 'operator', 'received_ms')
if not f[1] then return {'missing'} end
if f[1] ~= 'accepted' then return {'state', f[1]} end
if f[3] ~= op then return {'not_yours', f[3] or ''} end
local note = ARGV[8] or ''
if note ~= '' then
  if #note > tonumber(ARGV[10]) then return {'too_long'} end
  if redis.call('LLEN', key .. ':notes') >= tonumber(ARGV[9]) then return {'too_many_notes'} end
end
redis.call('HSET', key, 'state', 'offered', 'operator', '', 'next_esc_ms', ARGV[7])
redis.call('HDEL', key, 'accepted_ms')
local cc = redis.call('HGET', key, 'cc')
local next_esc = ARGV[7]
-- At the command centre there is nowhere further to escalate (unless transferred away).
if cc == '1' and ARGV[5] == '' then next_esc = '0' end
redis.call('HSET', key, 'next_esc_ms', next_esc)
if ARGV[5] ~= '' then
  redis.call('HSET', key, 'tiers', ARGV[5], 'cc', 0, 'station', ARGV[5], 'station_name', ARGV[6])
end
bump(key)
redis.call('SREM', 'anx:operator:' .. op .. ':calls', id)
op_busy(op, -1)
redis.call('ZADD', 'anx:calls:active', active_score(redis.call('HGET', key, 'priority') or '1', f[4]), id)
if next_esc ~= '0' then redis.call('ZADD', 'anx:timers', next_esc, id) end
history(id, ARGV[5] ~= '' and 'transferred' or 'released', 'operator:' .. op, ARGV[3], ARGV[4])
if note ~= '' then
  redis.call('RPUSH', key .. ':notes', cjson.encode({time_ms = nown, operator_id = op, text = note}))
  history(id, 'note', 'operator:' .. op, ARGV[3], note)
end
count('accepted', 'offered')
return {'ok', f[2]}
)lua";

// A note by someone with a part in the call: the operator holding it (or who held it when it was
// closed), an operator it is on offer to, or a supervisor; nobody else. At most max_notes per call.
// ARGV: call, operator, text, instance, supervisor ('1'), max_notes, max_note_bytes
// -> {'ok', time_ms} | {'missing'} | {'forbidden', holder} | {'too_long'} | {'too_many_notes'}
inline constexpr const char* note = R"lua(
local id, op = ARGV[1], ARGV[2]
local key = 'anx:call:' .. id
local holder = redis.call('HGET', key, 'operator')
if redis.call('EXISTS', key) == 0 then return {'missing'} end
if #ARGV[3] == 0 or #ARGV[3] > tonumber(ARGV[7]) then return {'too_long'} end
if ARGV[5] ~= '1' and holder ~= op and redis.call('SISMEMBER', key .. ':offers', op) == 0 then
  return {'forbidden', holder or ''}
end
if redis.call('LLEN', key .. ':notes') >= tonumber(ARGV[6]) then return {'too_many_notes'} end
redis.call('RPUSH', key .. ':notes', cjson.encode({time_ms = nown, operator_id = op, text = ARGV[3]}))
history(id, 'note', 'operator:' .. op, ARGV[4], ARGV[3])
return {'ok', now}
)lua";

// ARGV: device, call (may be empty: the device's newest open call), instance,
//       auto_close_priority (calls of this priority or lower not yet taken are closed; '0': never)
// -> {'ok', call, state, operator, cancelled_ms, auto_closed ('1'/'0'), offered ops...} | {'none'}
inline constexpr const char* cancel = R"lua(
local device, id = ARGV[1], ARGV[2]
if id == '' then
  local newest = redis.call('ZREVRANGE', 'anx:device:' .. device .. ':open', 0, 0)
  if #newest == 0 then return {'none'} end
  id = newest[1]
end
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'device', 'operator', 'priority', 'cancelled_ms')
if not f[1] or f[2] ~= device or f[1] == 'closed' then return {'none'} end
if not f[5] then
  redis.call('HSET', key, 'cancelled_ms', now)
  history(id, 'cancelled', 'device:' .. device, ARGV[3], '')
  f[5] = now
  bump(key)
end
local auto = '0'
local offered = {}
local lim = tonumber(ARGV[4])
if lim > 0 and tonumber(f[4]) >= lim and (f[1] == 'received' or f[1] == 'offered') then
  offered = close_waiting(id, device, 'false_alarm')
  history(id, 'closed', 'device:' .. device, ARGV[3], 'false_alarm (technical alarm cancelled by the device)')
  count(f[1], 'closed')
  auto = '1'
end
local out = {'ok', id, f[1], f[3] or '', f[5], auto}
for _, op in ipairs(offered) do table.insert(out, op) end
return out
)lua";

// A technical call closes itself (e.g. the offline device came back) unless a person has it.
// ARGV: call, outcome, detail, instance -> {'ok', device, offered ops...} | {'state', s}
inline constexpr const char* auto_resolve = R"lua(
local id = ARGV[1]
local key = 'anx:call:' .. id
local f = redis.call('HMGET', key, 'state', 'device')
if not f[1] then return {'state', 'missing'} end
history(id, 'device_back', 'router', ARGV[4], ARGV[3])
if f[1] ~= 'received' and f[1] ~= 'offered' then return {'state', f[1]} end
local offered = close_waiting(id, f[2], ARGV[2])
history(id, 'closed', 'router', ARGV[4], ARGV[2])
count(f[1], 'closed')
local out = {'ok', f[2]}
for _, op in ipairs(offered) do table.insert(out, op) end
return out
)lua";

// A supervisor closes waiting technical alarms (priority 3) in bulk, each checked and closed
// atomically here: a call taken, closed or raised to a higher priority meanwhile is refused, not
// closed. Emergencies and urgent calls are never closed this way.
// ARGV: instance, supervisor, outcome, note ('' none), detail (for the audit entry), ids...
// -> per call: id, code ('ok' | 'not_found' | 'bad_state' | 'not_technical'), device, n, the n
//    operators it was on offer to
inline constexpr const char* bulk_close = R"lua(
local instance, sup, outcome, note, detail = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local out = {}
for i = 6, #ARGV do
  local id = ARGV[i]
  local key = 'anx:call:' .. id
  local f = redis.call('HMGET', key, 'state', 'device', 'priority')
  local code = 'ok'
  if not f[1] then code = 'not_found'
  elseif f[1] ~= 'received' and f[1] ~= 'offered' then code = 'bad_state'
  elseif tonumber(f[3] or '1') < 3 then code = 'not_technical' end
  table.insert(out, id)
  table.insert(out, code)
  table.insert(out, f[2] or '')
  if code ~= 'ok' then
    table.insert(out, '0')
  else
    local offered = close_waiting(id, f[2], outcome)
    if note ~= '' then
      redis.call('RPUSH', key .. ':notes', cjson.encode({time_ms = nown, operator_id = sup, text = note}))
    end
    history(id, 'closed', 'operator:' .. sup, instance, outcome .. ' (' .. detail .. ')')
    count(f[1], 'closed')
    table.insert(out, tostring(#offered))
    for _, op in ipairs(offered) do table.insert(out, op) end
  end
end
return out
)lua";

// A supervisor sends waiting calls (any priority) to a station, where they start again at its
// first tier (as a transfer does), each checked atomically: a call taken or closed meanwhile is
// refused. The note goes with each call unless the call's notes are full (then that call is
// refused: too_many_notes).
// ARGV: instance, supervisor, station, station_name, next_esc_ms, note, max_notes, detail, ids...
// -> per call: id, code ('ok' | 'not_found' | 'bad_state' | 'too_many_notes'), device, n, the n
//    operators it was on offer to
inline constexpr const char* bulk_transfer = R"lua(
local instance, sup, station, station_name, next_esc, note, max_notes, detail =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8]
local out = {}
for i = 9, #ARGV do
  local id = ARGV[i]
  local key = 'anx:call:' .. id
  local f = redis.call('HMGET', key, 'state', 'device', 'routed_ms')
  local code = 'ok'
  if not f[1] then code = 'not_found'
  elseif f[1] ~= 'received' and f[1] ~= 'offered' then code = 'bad_state'
  elseif note ~= '' and redis.call('LLEN', key .. ':notes') >= max_notes then code = 'too_many_notes' end
  table.insert(out, id)
  table.insert(out, code)
  table.insert(out, f[2] or '')
  if code ~= 'ok' then
    table.insert(out, '0')
  else
    local offered = clear_offers(id)
    redis.call('HSET', key, 'state', 'offered', 'tiers', station, 'cc', 0, 'station', station,
               'station_name', station_name, 'next_esc_ms', next_esc)
    if not f[3] then redis.call('HSET', key, 'routed_ms', now) end
    bump(key)
    redis.call('ZADD', 'anx:timers', next_esc, id)
    history(id, 'transferred', 'operator:' .. sup, instance, station .. ' (' .. detail .. ')')
    if note ~= '' then
      redis.call('RPUSH', key .. ':notes', cjson.encode({time_ms = nown, operator_id = sup, text = note}))
      history(id, 'note', 'operator:' .. sup, instance, note)
    end
    if f[1] == 'received' then count('received', 'offered') end
    table.insert(out, tostring(#offered))
    for _, op in ipairs(offered) do table.insert(out, op) end
  end
end
return out
)lua";

// ARGV: operator, status ('available' | 'away' | 'logged_out'), reason, instance -> {'ok',
// previous}
inline constexpr const char* set_status = R"lua(
local sk = 'anx:opstate:' .. ARGV[1]
local prev = redis.call('HGET', sk, 'status') or 'logged_out'
redis.call('HSET', sk, 'status', ARGV[2])
if ARGV[2] == 'available' then
  redis.call('HSET', sk, 'missed', 0)
  if prev ~= 'available' then redis.call('HSET', sk, 'idle_since', now) end
end
if not redis.call('HGET', sk, 'active') then redis.call('HSET', sk, 'active', 0) end
return {'ok', prev}
)lua";

// ARGV: member ("station/operator"), lease_ms -> now
inline constexpr const char* presence_refresh = R"lua(
redis.call('ZADD', 'anx:presence', nown + tonumber(ARGV[2]), ARGV[1])
return now
)lua";

// -> {now, member, lease_end, member, lease_end, ...}: every operator ever present; a lease end in
// the past is when they went away.
inline constexpr const char* presence_all = R"lua(
local out = redis.call('ZRANGE', 'anx:presence', 0, -1, 'WITHSCORES')
table.insert(out, 1, now)
return out
)lua";

// A device was heard from. ARGV: device, heartbeat_interval_s, deadline_offset_ms, battery ('-1'
// unknown), recovery_ms -> {was_offline ('1'/'0'), offline_call or '', low_battery_episode}
// Coming back does not end an offline episode at once: the episode's call is resolved only after
// the device has stayed back for recovery_ms (see device_recovered), so a bouncing link makes one
// call, not one per bounce.
inline constexpr const char* device_seen = R"lua(
local d = ARGV[1]
local dk = 'anx:device:' .. d
redis.call('ZADD', 'anx:supervision', nown + tonumber(ARGV[3]), d)
local f = redis.call('HMGET', dk, 'offline', 'offline_call', 'low_battery')
local fields = {'last_seen_ms', now, 'offline', 0}
if ARGV[4] ~= '-1' then table.insert(fields, 'battery') table.insert(fields, ARGV[4]) end
redis.call('HSET', dk, unpack(fields))
redis.call('ZREM', 'anx:devices:offline', d)
if f[1] == '1' and f[2] then
  redis.call('ZADD', 'anx:devices:recovering', nown + tonumber(ARGV[5]), d)
end
return {f[1] == '1' and '1' or '0', f[2] or '', f[3] == '1' and '1' or '0'}
)lua";

// Claims an offline episode for a device whose supervision deadline passed. ARGV: device
// -> {'raise', episode} (exactly one caller: raise a call) | {'again', call} (the episode's call
// is still open: the device bounced) | {'no'}
inline constexpr const char* device_offline = R"lua(
local d = ARGV[1]
local score = redis.call('ZSCORE', 'anx:supervision', d)
if not score or tonumber(score) > nown then return {'no'} end
redis.call('ZREM', 'anx:supervision', d)
local dk = 'anx:device:' .. d
if redis.call('HGET', dk, 'offline') == '1' then return {'no'} end
redis.call('HSET', dk, 'offline', 1, 'offline_since_ms', now)
redis.call('ZADD', 'anx:devices:offline', now, d)
redis.call('ZREM', 'anx:devices:recovering', d)
local open = redis.call('HGET', dk, 'offline_call')
if open and redis.call('HGET', 'anx:call:' .. open, 'state') ~= 'closed' then
  history(open, 'device_offline_again', 'router', '', 'silent again before recovering')
  return {'again', open}
end
redis.call('HDEL', dk, 'offline_call')
local episode = redis.call('HINCRBY', dk, 'offline_episodes', 1)
return {'raise', tostring(episode)}
)lua";

// A device that came back has stayed back: its offline episode is over. ARGV: device
// -> {'ok', call} (resolve it) | {'no'}
inline constexpr const char* device_recovered = R"lua(
local d = ARGV[1]
local score = redis.call('ZSCORE', 'anx:devices:recovering', d)
if not score or tonumber(score) > nown then return {'no'} end
redis.call('ZREM', 'anx:devices:recovering', d)
local dk = 'anx:device:' .. d
if redis.call('HGET', dk, 'offline') == '1' then return {'no'} end
local call = redis.call('HGET', dk, 'offline_call')
if not call then return {'no'} end
redis.call('HDEL', dk, 'offline_call')
return {'ok', call}
)lua";

// The counter epoch a device announced (Hello.sequence_epoch). Written only when it changed:
// a heartbeat-like Hello with the same epoch is no news.
// ARGV: device, epoch -> {'ok', previous epoch ('' if none)}
inline constexpr const char* note_epoch = R"lua(
local key = 'anx:device:' .. ARGV[1]
local previous = redis.call('HGET', key, 'epoch') or ''
if previous ~= ARGV[2] then
  redis.call('HSET', key, 'epoch', ARGV[2], 'epoch_since_ms', now)
  if previous ~= '' then redis.call('HINCRBY', key, 'counter_resets', 1) end
end
return {'ok', previous}
)lua";

// ARGV: device, in_episode ('1' start / '0' end) -> {'changed', episode} | {'no'}
inline constexpr const char* battery_episode = R"lua(
local dk = 'anx:device:' .. ARGV[1]
local cur = redis.call('HGET', dk, 'low_battery') or '0'
if cur == ARGV[2] then return {'no'} end
redis.call('HSET', dk, 'low_battery', ARGV[2])
local n = 0
if ARGV[2] == '1' then n = redis.call('HINCRBY', dk, 'battery_episodes', 1) end
return {'changed', tostring(n)}
)lua";

// Seals a legacy plaintext device secret (directory::seal_legacy_secrets): a compare-and-set, so
// that a secret provisioned anew between the read and this write is never overwritten. Run with
// EVAL by the directory, without the prelude (it needs no clock).
// KEYS: anx:device:<id>  ARGV: the plaintext read, its sealed form -> 1 replaced | 0 changed since
inline constexpr const char* seal_secret = R"lua(
if redis.call('HGET', KEYS[1], 'secret') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'secret', ARGV[2])
return 1
)lua";

}  // namespace anxin::dispatcher::lua
