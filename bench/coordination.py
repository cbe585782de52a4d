"""What coordination costs: the time and CPU of one Coordinator tick, by pool count and replicas.

    .venv/bin/python bench/coordination.py --url sqlite:////tmp/leases.db --pools 100 1000 10000
    .venv/bin/python bench/coordination.py --url mysql+pymysql://root@127.0.0.1/fs_bench
    .venv/bin/python bench/coordination.py --etcd http://127.0.0.1:2379

For each pool count and replica count (in one process, each replica with its own connections):
the first rounds, until every pool is owned (takes), then ``--ticks`` steady rounds (renewals:
heartbeat, one bulk renewal, the holders listing and the rendezvous plan). Prints wall and CPU
milliseconds per replica tick (median and max). The tables are emptied before each case.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import sqlalchemy as sa

from fleetscale.coordination.lease import LeaseBackend
from fleetscale.coordination.replica import Coordinator
from fleetscale.coordination.sql import SqlLeases, make_engine


def backend_factory(args: argparse.Namespace, prefix: str) -> LeaseBackend:
    if args.etcd:
        from fleetscale.coordination.etcd import EtcdLeases

        return EtcdLeases([args.etcd], prefix=prefix, timeout=10)
    return SqlLeases.from_url(args.url)


def empty(args: argparse.Namespace) -> None:
    if args.etcd:
        return  # a fresh prefix per case
    engine = make_engine(args.url)
    SqlLeases(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM fs_leases"))
        conn.execute(sa.text("DELETE FROM fs_replicas"))
    engine.dispose()


def timed(c: Coordinator) -> tuple[float, float]:
    w, p = time.perf_counter(), time.process_time()
    c.tick()
    return (time.perf_counter() - w) * 1000, (time.process_time() - p) * 1000


def case(args: argparse.Namespace, pools: int, replicas: int) -> None:
    empty(args)
    prefix = f"/bench-{uuid.uuid4().hex[:8]}"
    names = [f"pool-{i:05d}" for i in range(pools)]
    cs = [Coordinator(backend_factory(args, prefix), names, replica=f"r{i}", ttl=60, safety_margin=10,
                      max_moves=pools) for i in range(replicas)]
    for c in cs:
        c.backend.register_replica(c.replica, 60)
    first: list[tuple[float, float]] = []
    for _ in range(3):
        first += [timed(c) for c in cs]
        if sum(len(c.owned()) for c in cs) == pools:
            break
    steady = [timed(c) for _ in range(args.ticks) for c in cs]
    owned = sorted(len(c.owned()) for c in cs)
    for c in cs:
        c.backend.close()
    take_wall = sum(w for w, _ in first) / replicas
    take_cpu = sum(p for _, p in first) / replicas
    wall = [w for w, _ in steady]
    cpu = [p for _, p in steady]
    print(f"{pools:>6} pools {replicas} replica(s)  owned {owned}  take-all {take_wall:8.0f} ms wall "
          f"{take_cpu:7.0f} ms cpu per replica  |  steady tick wall median {statistics.median(wall):7.1f} "
          f"max {max(wall):7.1f} ms, cpu median {statistics.median(cpu):7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="sqlite:////tmp/fleetscale-bench-leases.db")
    ap.add_argument("--etcd", help="etcd endpoint (instead of --url)")
    ap.add_argument("--pools", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--ticks", type=int, default=5)
    args = ap.parse_args()
    print(f"backend: {'etcd ' + args.etcd if args.etcd else args.url}")
    for pools in args.pools:
        for replicas in args.replicas:
            case(args, pools, replicas)


if __name__ == "__main__":
    main()
