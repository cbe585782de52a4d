"""Rendezvous ownership and bounded rebalancing (pure)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.coordination.ownership import assign, rebalance

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
replica_sets = st.frozensets(names, min_size=1, max_size=7)
pool_sets = st.frozensets(names, min_size=0, max_size=80)


class TestAssign:
    """Each pool goes to exactly one live replica, and moves only when it must."""

    @given(pool_sets, replica_sets)
    def test_every_pool_exactly_one_live_replica(self, pools: frozenset[str], live: frozenset[str]) -> None:
        owners = assign(pools, live)
        assert set(owners) == set(pools)
        assert set(owners.values()) <= live

    @given(pool_sets, replica_sets)
    def test_deterministic_whatever_the_order(self, pools: frozenset[str], live: frozenset[str]) -> None:
        assert assign(sorted(pools), sorted(live)) == assign(sorted(pools, reverse=True),
                                                             sorted(live, reverse=True))

    @given(pool_sets, replica_sets, names)
    def test_a_joining_replica_only_takes_pools(self, pools: frozenset[str], live: frozenset[str],
                                                new: str) -> None:
        before, after = assign(pools, live), assign(pools, live | {new})
        moved = {p for p in pools if before[p] != after[p]}
        assert all(after[p] == new for p in moved)

    @given(pool_sets, replica_sets.filter(lambda s: len(s) >= 2), st.data())
    def test_a_leaving_replica_only_gives_its_own_pools(self, pools: frozenset[str], live: frozenset[str],
                                                        data: st.DataObject) -> None:
        gone = data.draw(st.sampled_from(sorted(live)))
        before, after = assign(pools, live), assign(pools, live - {gone})
        moved = {p for p in pools if before[p] != after[p]}
        assert moved == {p for p in pools if before[p] == gone}

    @settings(max_examples=30, deadline=None)
    @given(st.integers(min_value=1, max_value=6), st.text(min_size=1, max_size=6))
    def test_balanced_within_tolerance(self, n: int, salt: str) -> None:
        live = {f"replica-{salt}-{i}" for i in range(n)}
        per = 300
        pools = [f"{salt}/pool-{i}" for i in range(per * n)]
        counts = Counter(assign(pools, live).values())
        # binomial spread: sd = sqrt(300) ~ 17; 40 % of 300 is 7 sd
        assert all(abs(counts[r] - per) <= 0.4 * per for r in live), counts

    def test_no_replicas_no_owners(self) -> None:
        assert assign(["a", "b"], []) == {}


class TestRebalance:
    """A round moves at most max_moves pools (minus those in flight); free pools go at once."""

    @given(pool_sets, replica_sets, st.data(), st.integers(min_value=0, max_value=10))
    def test_one_owner_each_and_bounded_moves(self, pools: frozenset[str], live: frozenset[str],
                                              data: st.DataObject, max_moves: int) -> None:
        everyone = sorted(live | {"dead-1", "dead-2"})
        holders = {p: data.draw(st.sampled_from([*everyone, None])) for p in sorted(pools)}
        holding = {p: h for p, h in holders.items() if h is not None}
        plan = rebalance(pools, live, holding, max_moves)
        assert set(plan.owners) == set(pools)
        assert set(plan.owners.values()) <= live
        taken_from_live = [p for p in pools if holding.get(p) in live and plan.owners[p] != holding[p]]
        free = sum(1 for p in pools if p not in holding)
        assert plan.free == free
        assert len(taken_from_live) <= max(0, max_moves - free)
        assert sorted(taken_from_live) == sorted(plan.moves)
        target = assign(pools, live)
        for p in pools:  # free pools and pools of dead replicas go to their target at once
            if holding.get(p) not in live:
                assert plan.owners[p] == target[p]

    @given(pool_sets, replica_sets, replica_sets, st.integers(min_value=1, max_value=7))
    def test_converges_to_the_targets(self, pools: frozenset[str], old: frozenset[str], live: frozenset[str],
                                      max_moves: int) -> None:
        holders = assign(pools, old)
        wrong = sum(1 for p in pools if holders[p] in live and holders[p] != assign(pools, live)[p])
        for _ in range(max(1, math.ceil(wrong / max_moves))):  # dead holders: all in round one
            holders = dict(rebalance(pools, live, holders, max_moves).owners)
        assert holders == assign(pools, live)
        assert rebalance(pools, live, holders, max_moves).moves == ()

    @settings(max_examples=300)
    @given(st.integers(min_value=4, max_value=40), st.integers(min_value=1, max_value=4),
           st.integers(min_value=1, max_value=4), st.data())
    def test_interleaved_rounds_keep_at_most_max_moves_in_flight(self, n_pools: int, max_moves: int,
                                                                 n_old: int, data: st.DataObject) -> None:
        """A replica's round is not atomic: it reads the holders, then releases and takes on what
        it read, while the others release and take in between. A new replica joins a settled
        fleet; in any interleaving of reads and actions (as ``Coordinator._round`` does them:
        give up what the plan gives away, take what it gives and was free when read, if it still
        is), never more than ``max_moves`` pools are free at once; then rounds converge."""
        pools = [f"p{i}" for i in range(n_pools)]
        old = [f"r{i}" for i in range(n_old)]
        live = [*old, "new"]
        target = assign(pools, live)
        holders = assign(pools, old)
        read: dict[str, dict[str, str]] = {}  # replica -> the holders it read and has not acted on

        def act(who: str, snapshot: dict[str, str]) -> None:
            plan = rebalance(pools, live, snapshot, max_moves, target)
            for p, owner in plan.owners.items():
                if owner != who and holders.get(p) == who:
                    del holders[p]
            for p, owner in plan.owners.items():
                if owner == who and p not in snapshot and p not in holders:
                    holders[p] = who

        for _ in range(data.draw(st.integers(min_value=0, max_value=300), label="steps")):
            who = data.draw(st.sampled_from(live), label="replica")
            if who in read:
                act(who, read.pop(who))
            else:
                read[who] = dict(holders)
            assert len(pools) - len(holders) <= max_moves, (holders, read)
        for who, snapshot in sorted(read.items()):  # the rounds in progress finish
            act(who, snapshot)
            assert len(pools) - len(holders) <= max_moves
        for _ in range(2 * n_pools + 2):
            for who in live:
                act(who, dict(holders))
                assert len(pools) - len(holders) <= max_moves
        assert holders == target

    def test_moves_are_deterministic(self) -> None:
        pools = [f"p{i}" for i in range(50)]
        holders = assign(pools, ["a", "b"])
        one = rebalance(pools, ["a", "b", "c"], holders, 3)
        two = rebalance(list(reversed(pools)), ["c", "b", "a"], dict(reversed(list(holders.items()))), 3)
        assert one == two and len(one.moves) == 3 and one.deferred > 0

    def test_pools_in_flight_use_up_the_budget(self) -> None:
        pools = [f"p{i}" for i in range(50)]
        holders = assign(pools, ["a", "b"])
        for gone in ("p1", "p2"):  # released, not taken yet
            del holders[gone]
        plan = rebalance(pools, ["a", "b", "c"], holders, 3)
        assert plan.free == 2 and len(plan.moves) == 1
        assert rebalance(pools, ["a", "b", "c"], {}, 3).moves == ()

    def test_negative_max_moves_refused(self) -> None:
        with pytest.raises(ValueError, match="max_moves"):
            rebalance(["p"], ["a"], {}, -1)
