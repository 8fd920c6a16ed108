"""The server side of a Redis channel: Lua scripts, each run atomically by the server.

Every script gets the same eight keys (``_keys.Keys``), all hashed to one slot by the channel
name's hash tag: ``meta`` (a hash: the kind marker, capacity, lease length, the lease clock,
the "side gone" flags), ``stream`` (the messages, with one consumer group ``rx``), ``tx`` and
``rx`` (sorted sets: lease id -> expiry on the lease clock), ``space`` (a list of wake-up tokens
for senders blocked on a full channel), ``seq`` (a hash: sender lease -> last sequence number
applied, to drop a retried send) and ``ctl`` (a short stream whose entries wake blocked
receivers: a side gone, a receiver gone with entries to reclaim) and ``wait`` (rendezvous: a
sorted set of receivers waiting in ``recv``, each until its announcement expires; see
``RV_SEND``). The capacity is stored as 0 for unbounded and -1 for rendezvous.

**The lease clock.** A lease's expiry is scored on a per-channel clock that follows the
server's ``TIME`` but advances at most half a lease per script run. Every live handle renews its
lease every quarter lease, so while anybody can reach the server the clock follows real time;
a gap longer than half a lease means nobody reached the server (it was paused with SIGSTOP,
restarted, or every client was cut off), and then no lease expires for that gap. A SIGKILLed
process's lease expires one lease length after its last renewal, as seen by the survivors.

**The hot send.** ``SEND_FAST`` is a send's first try: four keys, no shared prelude, the
channel's state read in one ``HMGET``. It computes the lease clock as ``load`` would (the same
value the full ``SEND`` would judge by at that instant) but does not store it, and it only ever
concludes that leases are *live*; anything else (its own lease not live, no receiver known to
be live, the channel gone or a rendezvous) it leaves to the full ``SEND``, run next with the same
arguments and sequence number ('slow'), which stores the clock and prunes. Not storing changes
later runs only when no storing script (a renewal, every quarter lease, or any other) ran for
half a lease: the stored clock then lags, which expires leases later, never earlier. Live
receivers are known by ``rxu`` in ``meta``: a lower bound of the latest expiry among the
receiver leases in ``rx``, set by the full ``SEND`` and deleted whenever a receiver lease leaves
``rx`` other than by expiring (``CLOSE``, ``LEASE adopt``); renewals only raise expiries. So
``rxu`` past the clock means a live receiver, as ``ZCOUNT`` of ``rx`` would say; otherwise the
full ``SEND`` looks.

Every reply starts with the server's time in milliseconds (for the client's estimate of the
server clock, used by the ``late`` guard of sends), then a status word.
"""

from __future__ import annotations

from typing import Final

KIND: Final = "mpsc.redis/1"
FREE: Final = "~"
"""The consumer that holds the entries an idle receiver gave back (``GIVE``); never a lease."""

_OOM_OK: Final = "#!lua flags=allow-oom\n"
"""First line of the scripts that must run when the server is at ``maxmemory`` (noeviction):
they free memory (RECV and ACK acknowledge and delete), or keep leases and introspection
working. Without it Redis refuses every script then, and a receiver could not drain the
channel that filled the server. SEND, RV_SEND and JOIN do without: refused (``ServerError``),
they add nothing."""

_APPEND: Final = """
local field, seq = ARGV[2], tonumber(ARGV[3])
local n = #ARGV - 4
local last = tonumber(redis.call('HGET', SEQ, field) or '0')
local done = 0
if last >= seq then done = math.min(n, last - seq + 1) end
local room = n - done
if CAP > 0 then
  local free = CAP - redis.call('XLEN', S)
  if free < room then room = math.max(free, 0) end
end
for i = 1, room do redis.call('XADD', S, '*', 'd', ARGV[4 + done + i]) end
if room > 0 then redis.call('HSET', SEQ, field, seq + done + room - 1) end
return {NOW, 'ok', done + room}
"""
"""The end of SEND and SEND_FAST: append what an earlier attempt of this send (same lane, same
sequence number) did not, as far as the capacity ``CAP`` allows."""

_PRELUDE: Final = (
    """
local M, S, TX, RX, SPACE, SEQ = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local CTL, WAIT = KEYS[7], KEYS[8]
local KIND = '"""
    + KIND
    + """'
local T = redis.call('TIME')
local NOW = tonumber(T[1]) * 1000 + math.floor(tonumber(T[2]) / 1000)
local CLOCK, TTL, CAP, TXG, RXG, DEAD, KEEP

-- Load the channel's state and advance its lease clock; false if the channel is not there.
local function load()
  local v = redis.call('HMGET', M, 'kind', 'ttl', 'clock', 'seen', 'cap', 'txg', 'rxg', 'dead', 'keep')
  if v[1] ~= KIND then return false end
  TTL = tonumber(v[2]); CLOCK = tonumber(v[3]); CAP = tonumber(v[5]); KEEP = tonumber(v[9])
  TXG = v[6] == '1'; RXG = v[7] == '1'; DEAD = v[8] == '1'
  local d = NOW - tonumber(v[4])
  if d < 0 then d = 0 end
  local step = math.floor(TTL / 2)
  if d > step then d = step end
  if d > 0 then
    CLOCK = CLOCK + d
    redis.call('HSET', M, 'clock', CLOCK, 'seen', NOW)
  end
  return true
end

-- Every key lives at least KEEP ms more (renewals call this: keys of a dead channel expire).
local function keep_all(ms)
  for _, k in ipairs({M, S, TX, RX, SEQ, CTL, SPACE, WAIT}) do
    local p = redis.call('PTTL', k)
    if p ~= -2 and p < ms then redis.call('PEXPIRE', k, ms) end
  end
end

local function live(Z, id)
  local s = redis.call('ZSCORE', Z, id)
  return s ~= false and tonumber(s) > CLOCK
end

-- The caller's own lease, renewed; false if it has expired.
local function mine(Z, id)
  if not live(Z, id) then return false end
  redis.call('ZADD', Z, 'XX', CLOCK + TTL, id)
  return true
end

local function wake_receivers(why)
  redis.call('XADD', CTL, 'MAXLEN', '16', '*', 'w', why)
  redis.call('PEXPIRE', CTL, KEEP)
end

local function wake_senders(n)
  if CAP ~= 0 and n > 0 then
    if n > 64 then n = 64 end
    local t = {}
    for i = 1, n do t[i] = '1' end
    redis.call('LPUSH', SPACE, unpack(t))
    redis.call('LTRIM', SPACE, 0, 63)
    redis.call('PEXPIRE', SPACE, KEEP)
  end
end

-- The last sender went: receivers drain the stream, then see RecvError. Final.
local function tx_gone()
  if not TXG then
    TXG = true
    redis.call('HSET', M, 'txg', '1')
    wake_receivers('tx')
  end
end

-- The last receiver went: what is buffered is dropped (as Rust drops it); sends fail. Final.
local function rx_gone()
  if not RXG then
    RXG = true
    redis.call('HSET', M, 'rxg', '1')
    if CAP < 0 then
      -- Rendezvous: every sender still waiting for its offer to be taken hears 'gone' now.
      for _, e in ipairs(redis.call('XRANGE', S, '-', '+')) do
        local f = e[2]
        if f[3] == 'a' then
          redis.call('LPUSH', f[4], 'gone')
          redis.call('PEXPIRE', f[4], KEEP)
        end
      end
      redis.call('DEL', WAIT)
    end
    redis.call('DEL', S)
    wake_senders(64)
  end
end

-- Entries pending under no live receiver: fetches look for them from now on (until a fetch
-- finds none left), and the waiting receivers are woken to do so.
local function claimable()
  if not DEAD then
    DEAD = true
    redis.call('HSET', M, 'dead', '1')
  end
  wake_receivers('rx')
end

-- A receiver's lease ended: its consumer goes, or stays for its pending entries to be claimed.
local function forget_consumer(c)
  if RXG then return end
  local p = redis.call('XPENDING', S, 'rx', '-', '+', 1, c)
  if #p == 0 then
    redis.call('XGROUP', 'DELCONSUMER', S, 'rx', c)
  else
    claimable()
  end
end

-- Rendezvous: the offers that senders whose leases ended left untaken are withdrawn (a sender
-- that died waiting for its offer to be taken never returned: its value goes nowhere).
local function withdraw_offers(gone)
  local dead = {}
  for _, g in ipairs(gone) do dead[g] = true end
  for _, e in ipairs(redis.call('XRANGE', S, '-', '+')) do
    local f = e[2]
    if f[3] == 'a' then
      local owner = string.match(f[4], ':mpsc:ack:(%x+)[/%d]*$')
      if owner and dead[owner] and #redis.call('XPENDING', S, 'rx', e[1], e[1], 1) == 0 then
        redis.call('XDEL', S, e[1])
        redis.call('HDEL', SEQ, 'x' .. e[1])
      end
    end
  end
end

local function prune_tx()
  local gone = redis.call('ZRANGEBYSCORE', TX, '-inf', CLOCK)
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', TX, '-inf', CLOCK)
    redis.call('HDEL', SEQ, unpack(gone))
    if CAP < 0 and not RXG then withdraw_offers(gone) end
  end
  if not TXG and redis.call('ZCARD', TX) == 0 then tx_gone() end
end

local function prune_rx()
  local gone = redis.call('ZRANGEBYSCORE', RX, '-inf', CLOCK)
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', RX, '-inf', CLOCK)
    for _, c in ipairs(gone) do forget_consumer(c) end
  end
  if not RXG and redis.call('ZCARD', RX) == 0 then rx_gone() end
end

-- Stream ids ('ms-seq', auto: increasing) as numbers, compared.
local function id_parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function id_before(a, b)
  local am, as = id_parts(a)
  local bm, bs = id_parts(b)
  return am < bm or (am == bm and as < bs)
end

-- Acknowledge ARGV[first..] and take them out of the stream. Entries are delivered in id order,
-- so every entry up to the latest acknowledged one was delivered, and those of them not pending
-- are acknowledged: those before the first pending entry go by one trim from the head of the
-- stream (XTRIM MINID, exact: the length stays the count the bound checks); the others one by
-- one (XDEL, which seeks each in its node: the costlier way).
local function ack(first)
  if RXG or #ARGV < first then return end
  local ids = {}
  local top = ARGV[first]
  for i = first, #ARGV do
    ids[#ids + 1] = ARGV[i]
    if id_before(top, ARGV[i]) then top = ARGV[i] end
  end
  redis.call('XACK', S, 'rx', unpack(ids))
  local low = redis.call('XPENDING', S, 'rx')[2]
  local bound
  local later = {}
  if low and not id_before(top, low) then
    bound = low
    for _, id in ipairs(ids) do
      if not id_before(id, low) then later[#later + 1] = id end
    end
  else
    local ms, seq = id_parts(top)
    bound = string.format('%d-%d', ms, seq + 1)
  end
  local gone = redis.call('XTRIM', S, 'MINID', bound)
  if #later > 0 then gone = gone + redis.call('XDEL', S, unpack(later)) end
  wake_senders(gone)
  -- After the last sender went, receivers waiting for others' pending entries re-check.
  if TXG then wake_receivers('ack') end
end
"""
)

# ARGV: mode ('new' | 'open'), capacity (0 = unbounded), lease ms, keep ms, tx id, rx id.
JOIN: Final = (
    _PRELUDE
    + """
local mode, cap, ttl, keep = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tm = redis.call('TYPE', M)['ok']
if tm == 'none' then
  local ts = redis.call('TYPE', S)['ok']
  if ts ~= 'none' then return {NOW, 'taken', ts} end
  for _, k in ipairs({TX, RX, SPACE, SEQ, CTL, WAIT}) do
    local t = redis.call('TYPE', k)['ok']
    if t ~= 'none' then return {NOW, 'taken', t, k} end
  end
  redis.call('HSET', M, 'kind', KIND, 'cap', cap, 'ttl', ttl, 'clock', 0, 'seen', NOW, 'keep', keep)
  redis.call('XGROUP', 'CREATE', S, 'rx', '0', 'MKSTREAM')
  -- SEQ always holds this field, so that a send's HSET never creates the key (without a TTL).
  redis.call('HSET', SEQ, '~', 0)
  load()
  redis.call('ZADD', TX, CLOCK + TTL, ARGV[5])
  redis.call('ZADD', RX, CLOCK + TTL, ARGV[6])
  keep_all(KEEP)
  return {NOW, 'ok', cap, ttl}
end
if tm ~= 'hash' or redis.call('HGET', M, 'kind') ~= KIND then return {NOW, 'taken', tm, M} end
if mode == 'new' then return {NOW, 'exists'} end
load()
prune_tx()
prune_rx()
if TXG or RXG then return {NOW, 'ended'} end
if CAP ~= cap then return {NOW, 'capacity', CAP} end
redis.call('ZADD', TX, CLOCK + TTL, ARGV[5])
redis.call('ZADD', RX, CLOCK + TTL, ARGV[6])
keep_all(KEEP)
return {NOW, 'ok', CAP, TTL}
"""
)

# ARGV: sender lease id, the lane's sequence field, seq of the first value, late (server ms
# after which nothing may be done; 0: none), then the pickled values. Reply: NOW, status, how
# many of the values are in the stream now (those this run added, plus those an earlier run of
# the same send already added).
SEND: Final = (
    _PRELUDE
    + """
if not load() then return {NOW, 'lost'} end
local late = tonumber(ARGV[4])
if late > 0 and NOW > late then
  -- Too late: nothing is done, and 'late' says so only if no earlier attempt of this send did it.
  local prev, first = tonumber(redis.call('HGET', SEQ, ARGV[2]) or '0'), tonumber(ARGV[3])
  if prev >= first then return {NOW, 'ok', math.min(#ARGV - 4, prev - first + 1)} end
  return {NOW, 'late'}
end
-- The hot path: the lease is only checked (the lease thread renews it), and receivers are
-- pruned only when none is live.
if not live(TX, ARGV[1]) then return {NOW, 'lost'} end
if not RXG then
  -- The latest receiver lease: past the clock, none is live (prune); else SEND_FAST may rely
  -- on it until the clock passes it.
  local top = redis.call('ZREVRANGE', RX, 0, 0, 'WITHSCORES')
  if top[2] and tonumber(top[2]) > CLOCK then redis.call('HSET', M, 'rxu', top[2]) else prune_rx() end
end
if RXG then return {NOW, 'disc'} end
"""
    + _APPEND
)

# The hot path of SEND (see the module's docstring): KEYS meta, stream, tx, seq; ARGV and replies
# as SEND's, plus 'slow': nothing was done, run SEND with the same arguments. No prelude: every
# function defined per run costs the server time on each send.
SEND_FAST: Final = (
    """
local M, S, TX, SEQ = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local T = redis.call('TIME')
local NOW = tonumber(T[1]) * 1000 + math.floor(tonumber(T[2]) / 1000)
local v = redis.call('HMGET', M, 'kind', 'ttl', 'clock', 'seen', 'cap', 'rxg', 'rxu')
if v[1] ~= '"""
    + KIND
    + """' or v[5] == '-1' then return {NOW, 'slow'} end
if v[6] == '1' then return {NOW, 'disc'} end
local late = tonumber(ARGV[4])
if late > 0 and NOW > late then return {NOW, 'slow'} end  -- (SEND tells 'late' from done)
-- The clock as load() would advance it, not stored.
local step = math.floor(tonumber(v[2]) / 2)
local d = NOW - tonumber(v[4])
if d < 0 then d = 0 end
if d > step then d = step end
local clock = tonumber(v[3]) + d
if not v[7] or tonumber(v[7]) <= clock then return {NOW, 'slow'} end
local own = redis.call('ZSCORE', TX, ARGV[1])
if not own or tonumber(own) <= clock then return {NOW, 'slow'} end
local CAP = tonumber(v[5])
"""
    + _APPEND
)

# ARGV: receiver lease id, how many to take at most, '1' to re-read this consumer's own pending
# entries first (after a call whose reply was lost; on a rendezvous channel, what a sender handed
# it), the announcement (rendezvous: ms this receiver will wait, announced in WAIT for senders to
# hand it a value; 0 takes an announcement back), late (server ms after which the fetch does
# nothing: 'late'; 0: none), then the ids to acknowledge (and delete).
# Reply: NOW, 'ok', ids (space-separated), payload lengths (comma-separated), the payloads end to
# end[, 'more': cut at about 4 MB, more may be pending under this consumer] | NOW, 'empty', last
# stream id, last ctl id | 'disc' | 'lost' | 'late'.
RECV: Final = (
    _OOM_OK
    + _PRELUDE
    + """
if not load() then return {NOW, 'lost'} end
local FETCH_BYTES = 4194304
local me, count, announce = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4])
if not mine(RX, me) or RXG then return {NOW, 'lost'} end
local late = tonumber(ARGV[5])
if late > 0 and NOW > late then return {NOW, 'late'} end
ack(6)
prune_tx()
prune_rx()
-- What is fetched: ids, payload lengths and payloads, replied as three strings (a reply of two
-- bulk strings per entry costs the client more to parse than the server to make).
local ids, lens, pays = {}, {}, {}
local function put(id, payload)
  ids[#ids + 1] = id
  lens[#lens + 1] = #payload
  pays[#pays + 1] = payload
end
local function take(entries)
  for _, e in ipairs(entries) do
    if e and e[2] then put(e[1], e[2][2]) end
  end
end
-- Read this consumer's pending entries (from = '0') or new ones ('>'), in chunks of 1, 2, 4, ...
-- entries until count or about FETCH_BYTES of payloads: a backlog of large entries is not
-- copied into the script (nor delivered to this consumer) all at once.
local bytes = 0
local cut = false  -- a re-read stopped for size: more of this consumer's pending entries may follow
local function read(from)
  local n, last = 1, from
  while #ids < count and bytes < FETCH_BYTES do
    local k = math.min(n, count - #ids)
    local r = redis.call('XREADGROUP', 'GROUP', 'rx', me, 'COUNT', k, 'STREAMS', S, last)
    if not r then return end
    local es = r[1][2]
    for _, e in ipairs(es) do
      local expired = false
      -- A rendezvous offer read for the first time is taken: its sender hears so (entries
      -- claimed from a dead receiver were taken at their first reading already); unless it
      -- expired (its expiry, server ms, is 'x<id>' in SEQ; see RV_SEND): then it is deleted
      -- unread, and its expiry left for its sender's check to find.
      if e and e[2] and from == '>' and e[2][3] == 'a' then
        local x = redis.call('HGET', SEQ, 'x' .. e[1])
        if x and NOW >= tonumber(x) then
          expired = true
          redis.call('XACK', S, 'rx', e[1])
          redis.call('XDEL', S, e[1])
        else
          redis.call('HDEL', SEQ, 'x' .. e[1])
          redis.call('LPUSH', e[2][4], e[1])
          redis.call('PEXPIRE', e[2][4], KEEP)
        end
      end
      if e and e[2] and not expired then
        put(e[1], e[2][2])
        bytes = bytes + #e[2][2]
      end
      if from ~= '>' then last = e[1] end
    end
    if #es < k then return end
    n = n * 2
  end
  if from ~= '>' and #ids < count then cut = true end
end
if ARGV[3] == '1' then read('0') end
if #ids == 0 and DEAD then
  local left = false
  local sum = redis.call('XPENDING', S, 'rx')
  if sum[4] then
    for _, cc in ipairs(sum[4]) do
      local c = cc[1]
      if c ~= me and not live(RX, c) then
        if #ids >= count then
          left = true
        else
          local p = redis.call('XPENDING', S, 'rx', '-', '+', count, c)
          local ids = {}
          for _, x in ipairs(p) do ids[#ids + 1] = x[1] end
          if #ids > 0 then take(redis.call('XCLAIM', S, 'rx', me, 0, unpack(ids))) end
          if tonumber(cc[2]) > #ids then left = true
          else redis.call('XGROUP', 'DELCONSUMER', S, 'rx', c) end
        end
      end
    end
  end
  if not left then
    DEAD = false
    redis.call('HDEL', M, 'dead')
  end
end
if #ids == 0 then read('>') end
if CAP < 0 then
  if #ids == 0 and announce > 0 and not TXG then
    redis.call('ZADD', WAIT, CLOCK + announce, me)
    redis.call('PEXPIRE', WAIT, KEEP)
    -- a token for a select whose send waits for a receiver to announce itself
    redis.call('LPUSH', SPACE, '1')
    redis.call('LTRIM', SPACE, 0, 0)
    redis.call('PEXPIRE', SPACE, KEEP)
  else
    redis.call('ZREM', WAIT, me)
  end
end
local function fetched(n)
  return table.concat(ids, ' ', 1, n), table.concat(lens, ',', 1, n), table.concat(pays, '', 1, n)
end
if #ids > 1 then
  -- A reply carries at most about FETCH_BYTES of payloads (at least one entry): what is cut
  -- off stays pending under this consumer, and 'more' tells it to re-read them next.
  local bytes, keep = 0, 0
  for i = 1, #ids do
    bytes = bytes + lens[i]
    keep = i
    if bytes >= FETCH_BYTES then break end
  end
  if keep < #ids then
    local i, l, p = fetched(keep)
    return {NOW, 'ok', i, l, p, 'more'}
  end
end
if #ids > 0 then
  local i, l, p = fetched(#ids)
  if cut then return {NOW, 'ok', i, l, p, 'more'} end
  return {NOW, 'ok', i, l, p}
end
-- Disconnected once the last sender went and no entry is left anywhere: none new, none
-- pending with another receiver (which could still die and leave it to be claimed here).
if TXG and tonumber(redis.call('XPENDING', S, 'rx')[1]) == 0 then return {NOW, 'disc'} end
local last, lastctl = '0-0', '0-0'
local e = redis.call('XREVRANGE', S, '+', '-', 'COUNT', 1)
if #e > 0 then last = e[1][1] end
e = redis.call('XREVRANGE', CTL, '+', '-', 'COUNT', 1)
if #e > 0 then lastctl = e[1][1] end
return {NOW, 'empty', last, lastctl}
"""
)

# Rendezvous (capacity 0; CAP is -1 on the server). A send first looks for a receiver announced
# in WAIT (a live lease, an announcement not expired): then its value is appended and at once
# read into that receiver's pending entries (XREADGROUP as its consumer), so it is taken in
# the same script ('ok'). Otherwise ``try_send`` reports 'full' and ``send`` posts an *offer*:
# an entry that also names the sender's ack list (KEYS[9]); the receiver script that first reads
# it pushes the entry's id there, which the sender waits for (BLMOVE, not consuming it, so a
# lost reply loses nothing). Undelivered offers and live announcements never coexist: a
# receiver announces only when no offer was there to read, a sender posts only when nobody is
# announced.
# An offer *expires* on the server's TIME at the instant its sender gives (ms; 'x<offer id>' in
# SEQ): its sender's deadline, or a second after its post or last extension (RV_CHECK) for one
# that waits untimed; a fetch deletes an expired offer unread. So a sender whose server went
# away (paused, killed and restarted) knows by its own clock when its offer can no longer be
# taken, and need not reach the server to withdraw it.
# ARGV: sender lease id, lane field, seq, late (as SEND), mode ('try' | 'post' | 'undo'), the
# offer's expiry (server ms; 0: none), payload.
# Reply: NOW, 'ok' | 'full' | 'posted', offer id | 'disc' | 'lost' | 'late' | 'undone'.
# A retried attempt (same seq) returns the first attempt's outcome, even when late; 'undo'
# (after a timed-out attempt whose reply never came) returns it too, or makes sure it never
# happens.
RV_SEND: Final = (
    _PRELUDE
    + """
if not load() then return {NOW, 'lost'} end
if not live(TX, ARGV[1]) then return {NOW, 'lost'} end
if not RXG and redis.call('ZCOUNT', RX, '(' .. CLOCK, '+inf') == 0 then prune_rx() end
if RXG then return {NOW, 'disc'} end
local field, seq, mode, ACKS = ARGV[2], ARGV[3], ARGV[5], KEYS[9]
local prev = redis.call('HGET', SEQ, field)
if prev then
  local ps, pr = string.match(prev, '^(%d+)|(.*)$')
  if ps == seq then
    if pr == 'h' then return {NOW, 'ok'} end
    if pr == 'x' then return {NOW, 'undone'} end
    return {NOW, 'posted', pr}
  end
end
if mode == 'undo' then  -- the attempt with this seq never ran: it never will
  redis.call('HSET', SEQ, field, seq .. '|x')
  return {NOW, 'undone'}
end
local late, expiry = tonumber(ARGV[4]), tonumber(ARGV[6])
if late > 0 and NOW > late then return {NOW, 'late'} end
if expiry > 0 and NOW >= expiry then return {NOW, 'late'} end
redis.call('ZREMRANGEBYSCORE', WAIT, '-inf', CLOCK)
local to = nil
for _, c in ipairs(redis.call('ZRANGE', WAIT, 0, -1)) do
  if live(RX, c) then to = c break end
  redis.call('ZREM', WAIT, c)
end
if to then
  redis.call('XADD', S, '*', 'd', ARGV[7])
  local r = redis.call('XREADGROUP', 'GROUP', 'rx', to, 'STREAMS', S, '>')
  -- (only this entry is undelivered: an announced receiver found no offer to read)
  redis.call('ZREM', WAIT, to)
  redis.call('HSET', SEQ, field, seq .. '|h')
  return {NOW, 'ok'}
end
if mode == 'try' then return {NOW, 'full'} end
redis.call('DEL', ACKS)
local id = redis.call('XADD', S, '*', 'd', ARGV[7], 'a', ACKS)
redis.call('HSET', SEQ, field, seq .. '|' .. id)
if expiry > 0 then redis.call('HSET', SEQ, 'x' .. id, expiry) end
return {NOW, 'posted', id}
"""
)

# ARGV: offer id, mode ('check' | 'withdraw'), a new expiry (server ms; 0: unchanged); KEYS[9]:
# the offer's ack list. Reply: NOW, 'taken' (a receiver read it) | 'disc' (dropped: every
# receiver is gone) | 'withdrawn' (it was still there, now deleted; or withdrawn already by its
# sender's close or the end of its lease) | 'expired' (it expired untaken; deleted) | 'waiting'
# (check only: still there, its expiry moved to the new one).
RV_CHECK: Final = (
    _OOM_OK
    + _PRELUDE
    + """
local id, ACKS = ARGV[1], KEYS[9]
local X = 'x' .. id
if redis.call('LPOS', ACKS, id) then
  redis.call('DEL', ACKS)
  redis.call('HDEL', SEQ, X)
  return {NOW, 'taken'}
end
if not load() then return {NOW, 'disc'} end
prune_rx()
if RXG then
  redis.call('DEL', ACKS)
  redis.call('HDEL', SEQ, X)
  return {NOW, 'disc'}
end
local expiry = tonumber(redis.call('HGET', SEQ, X) or '0')
local there = #redis.call('XRANGE', S, id, id) > 0
if ARGV[2] == 'withdraw' or not there or (expiry > 0 and NOW >= expiry) then
  redis.call('XDEL', S, id)
  redis.call('DEL', ACKS)
  redis.call('HDEL', SEQ, X)
  -- (gone with its expiry left: a fetch deleted it expired; gone without: its sender's close
  -- or the end of its lease withdrew it)
  if ARGV[2] ~= 'withdraw' and expiry > 0 and NOW >= expiry then return {NOW, 'expired'} end
  return {NOW, 'withdrawn'}
end
local new = tonumber(ARGV[3])
if new > expiry then redis.call('HSET', SEQ, X, new) end
return {NOW, 'waiting'}
"""
)

# ARGV: receiver lease id, then the ids to acknowledge and delete.
ACK: Final = (
    _OOM_OK
    + _PRELUDE
    + """
if not load() then return {NOW, 'lost'} end
if not mine(RX, ARGV[1]) then return {NOW, 'lost'} end
ack(2)
return {NOW, 'ok'}
"""
)

# ARGV: receiver lease id, late (server ms after which nothing may be done; 0: none), then the
# ids of the entries it handed out and has not acknowledged. Every other entry pending under
# this receiver (fetched, not handed out) becomes pending under the consumer FREE, which no
# lease owns: the receivers' fetches claim them first (as a dead receiver's), in order. Reply:
# NOW, 'ok' | 'late' (nothing done) | 'lost'.
GIVE: Final = (
    _OOM_OK
    + _PRELUDE
    + """
if not load() then return {NOW, 'lost'} end
local late = tonumber(ARGV[2])
if late > 0 and NOW > late then return {NOW, 'late'} end
if not mine(RX, ARGV[1]) or RXG then return {NOW, 'lost'} end
-- (a rendezvous receive cut short after announcing itself: the announcement goes too)
if CAP < 0 then redis.call('ZREM', WAIT, ARGV[1]) end
local handed = {}
for i = 3, #ARGV do handed[ARGV[i]] = true end
local ids = {}
for _, p in ipairs(redis.call('XPENDING', S, 'rx', '-', '+', 100000, ARGV[1])) do
  if not handed[p[1]] then ids[#ids + 1] = p[1] end
end
if #ids > 0 then
  -- (in chunks: unpack has a limit)
  for first = 1, #ids, 1000 do
    local args = {}
    for i = first, math.min(first + 999, #ids) do args[#args + 1] = ids[i] end
    args[#args + 1] = 'JUSTID'
    redis.call('XCLAIM', S, 'rx', '"""
    + FREE
    + """', 0, unpack(args))
  end
  claimable()
end
return {NOW, 'ok'}
"""
)

# ARGV: side ('tx' | 'rx'), lease id, then the ids to acknowledge and delete (receivers) or
# the sender's extra sequence fields (senders).
CLOSE: Final = (
    _OOM_OK
    + _PRELUDE
    + """
if not load() then return {NOW, 'ok'} end
local side, id = ARGV[1], ARGV[2]
if side == 'tx' then
  redis.call('ZREM', TX, id)
  redis.call('HDEL', SEQ, id)
  for i = 3, #ARGV do redis.call('HDEL', SEQ, ARGV[i]) end
  if CAP < 0 and not RXG then withdraw_offers({id}) end
  if redis.call('ZCARD', TX) == 0 then tx_gone() end
else
  ack(3)
  redis.call('ZREM', WAIT, id)
  redis.call('HDEL', M, 'rxu')  -- (it may have been this lease's expiry)
  if redis.call('ZREM', RX, id) == 1 then forget_consumer(id) end
  if redis.call('ZCARD', RX) == 0 then rx_gone() end
end
if TXG and RXG then redis.call('DEL', M, S, TX, RX, SPACE, SEQ, CTL, WAIT) end
return {NOW, 'ok'}
"""
)

# ARGV: keep ms, number of sender ids, the sender ids, the receiver ids. Renews every lease
# given, prunes both sides, keeps the keys alive. Reply: NOW, 'ok', {lost ids}.
RENEW: Final = (
    _OOM_OK
    + _PRELUDE
    + """
local ntx = tonumber(ARGV[2])
local lost = {}
if not load() then
  for i = 3, #ARGV do lost[#lost + 1] = ARGV[i] end
  return {NOW, 'ok', lost}
end
for i = 3, #ARGV do
  local Z = RX
  if i < 3 + ntx then Z = TX end
  if not mine(Z, ARGV[i]) then lost[#lost + 1] = ARGV[i] end
end
prune_tx()
prune_rx()
keep_all(tonumber(ARGV[1]))
return {NOW, 'ok', lost}
"""
)

# ARGV: op ('clone' | 'travel' | 'adopt'), side, from id, new id, travel ms.
# clone: a new lease beside the caller's live one. travel: a lease for a pickled handle, lasting
# travel ms (its keys too). adopt: the unpickled handle takes the travel lease over; if that is
# gone (expired, or adopted already), it joins while its side still has a live lease.
LEASE: Final = (
    _OOM_OK
    + _PRELUDE
    + """
if not load() then return {NOW, 'lost'} end
local op, side, from, new = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local Z = RX
if side == 'tx' then Z = TX end
if op == 'adopt' then
  if live(Z, from) then
    -- (the new lease first: removing the only one first would recreate the key without a TTL)
    redis.call('ZADD', Z, CLOCK + TTL, new)
    redis.call('ZREM', Z, from)
    if Z == RX then redis.call('HDEL', M, 'rxu') end  -- (it may have been the travel lease's)
    return {NOW, 'ok'}
  else
    prune_tx()
    prune_rx()
    if (side == 'tx' and TXG) or (side == 'rx' and RXG) or redis.call('ZCARD', Z) == 0 then
      return {NOW, 'lost'}
    end
  end
  redis.call('ZADD', Z, CLOCK + TTL, new)
  return {NOW, 'ok'}
end
if not mine(Z, from) then return {NOW, 'lost'} end
if op == 'travel' then
  local ms = tonumber(ARGV[5])
  redis.call('ZADD', Z, CLOCK + ms, new)
  keep_all(ms + KEEP)
else
  redis.call('ZADD', Z, CLOCK + TTL, new)
end
return {NOW, 'ok'}
"""
)

# ARGV: side of the caller. Reply: NOW, 'ok', live handles of the other side (0 once it is gone
# for good), entries in the stream.
PEEK: Final = (
    _OOM_OK
    + _PRELUDE
    + """
if not load() then return {NOW, 'lost'} end
prune_tx()
prune_rx()
local other = 0
if ARGV[1] == 'tx' then
  if not RXG then other = redis.call('ZCARD', RX) end
else
  if not TXG then other = redis.call('ZCARD', TX) end
end
local n = 0
if not RXG then n = redis.call('XLEN', S) end
return {NOW, 'ok', other, n}
"""
)
