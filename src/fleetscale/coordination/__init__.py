"""Several replicas share the pools: ownership by lease, with fencing tokens.

Parts::

    lease.py      Lease, Holder (values); LeaseBackend (the port)
    sql.py        SqlLeases: lease table in the journal's database (MariaDB, SQLite)
    etcd.py       EtcdLeases: etcd leases + txns through etcd3gw; token = key mod_revision
    ownership.py  pure: rendezvous targets, bounded rebalancing (max_moves)
    fence.py      may_act (local rule); LeaseRowFence, TokenFence (store-side guard)
    replica.py    Coordinator: heartbeat, renew, plan, take, give up; OwnershipChange
    history.py    OwnershipLog: fs_ownership, the journal of ownership changes
    build.py      build(config.coordination, journal_url, pools) -> Coordination

Without a ``coordination:`` section nothing here runs and the one replica owns every pool.

How a controller uses it
========================

1. **Start.** ``c = build(config.coordination, config.journal.sql, pool_names,
   on_changes=...)`` gives ``c.coordinator``, ``c.fence`` and ``c.renew_every``. Create the
   fence's tables on the state store's engine once: ``c.fence.create(engine)``. Pass
   ``on_changes=OwnershipLog(engine).record`` (or a function that also journals and logs) so
   the journal records every ``acquired`` / ``released`` / ``lost``.

2. **Tick the coordinator in its own thread**, not in a pool's cycle:
   ``threading.Thread(target=c.coordinator.run, args=(stop_event, c.renew_every))``. ``run``
   ticks every ``renew_every`` seconds and, when ``stop_event`` is set, releases every pool and
   leaves the live set (``Coordinator.stop``), so the other replicas take over at once instead
   of after the TTL. Start the pools' cycles after the first tick has returned.

3. **Each pool cycle** starts with ``lease = coordinator.lease(pool)``. If it is ``None`` or
   ``not coordinator.may_act(pool, time.monotonic())``, skip the cycle: another replica owns
   the pool (or this one may have lost it). Remember ``lease.token`` for the whole cycle.

4. **On a new token** (``lease.token`` differs from the token the runner last loaded the state
   with, including the first cycle): load the pool's state value again, in a transaction that
   begins with ``c.fence.claim(conn, pool, lease.token)``. Another replica may have changed the
   state (drains, pending intents, governor memory) while it owned the pool; replay the pending
   intents as at a restart.

5. **Every state write and every write-ahead intent** runs ``c.fence.guard(conn, pool,
   token)`` as the *first* statement of its own transaction (``with engine.begin() as conn:``),
   then writes. ``guard`` raises ``FencingError`` (nothing is written: the transaction rolls
   back) when the token is no longer current, and otherwise locks what it checked until commit,
   so no takeover can commit in between. Keep these transactions short: a replica paused
   *inside* one holds the lock and delays the takeover until it wakes or its connection drops.

6. **Right before each external action** (launch, begin/cancel drain, terminate) check
   ``coordinator.may_act(pool, time.monotonic())`` again, after the intent is written; if it is
   false, stop the cycle there (the pending intent is replayed by whoever owns the pool next;
   the request id makes that idempotent). On ``FencingError`` stop the cycle, record it as an
   error of the cycle, and drop the runner's in-memory state for the pool.

7. **Show ownership** (``fleetscale status``, the API's pool view): ``c.backend.holders()``
   gives each leased pool's holder and token; ``OwnershipLog.history(pool)`` the changes.

Choosing the TTL: a dead replica's pools move after at most ``ttl + renew_every``; a replica
stops acting ``safety_margin`` before its lease's local deadline. The defaults (ttl 10 s,
renew every ttl/3, margin ttl/5) suit pool intervals of 10-60 s.
"""
