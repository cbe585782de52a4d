"""Spans: one ``fs_cycles`` row standing for a run of cycles that changed nothing.

A row's first cycle is the row's own ``cycle_id``, ``started_at`` and ``finished_at``; its
``repeats`` further cycles are rebuilt exactly from two small things:

- ``times``: each repeat's start, as microseconds after the previous cycle's start, and its
  length (``finished_at - started_at``) in microseconds when not zero: ``15000000+2104``. Equal
  neighbours are run-length coded: ``15000000*239`` is 239 repeats, 15 s apart, each taking no
  time (a simulated clock); a real clock's jitter costs about 16 bytes a repeat;
- the cycle ids, which follow the controller's pattern ``POOL:YYYYMMDDTHHMMSS:RUN.SEQ``: the
  sequence number goes up by one a cycle and the stamp is the cycle's start (UTC). A cycle whose
  id does not follow from the row's starts a new row, so every id read back is the one written.

A row stops growing at ``MAX_REPEATS`` repeats or when its next cycle would start
``MAX_SPAN`` or more after its first: a span never covers more than an hour, so a reader
looking for cycles since T need only look at rows that started after T - 1 h, and retention
deletes spans of at most an hour.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

MAX_REPEATS = 1000
MAX_SPAN = timedelta(hours=1)
_ID = re.compile(r"^(?P<head>.*?)(?P<seq>\d+)$")
_STAMP = re.compile(r"\d{8}T\d{6}")


def micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def append(times: str | None, gap: timedelta, length: timedelta) -> str:
    """``times`` with one more repeat, starting ``gap`` after the previous cycle's start."""
    token = f"{micros(gap)}" if not length else f"{micros(gap)}+{micros(length)}"
    if not times:
        return token
    head, _, last = times.rpartition(",")
    base, star, count = last.partition("*")
    if base == token:
        last = f"{token}*{int(count) + 1 if star else 2}"
        return f"{head},{last}" if head else last
    return f"{times},{token}"


def expand(first: datetime, times: str | None) -> Iterator[tuple[datetime, datetime]]:
    """(started_at, finished_at) of each repeat after the cycle that started at ``first``."""
    at = first
    for item in (times or "").split(","):
        if not item:
            continue
        base, _, count = item.partition("*")
        gap, _, length = base.partition("+")
        for _ in range(int(count or 1)):
            at = at + timedelta(microseconds=int(gap))
            yield at, at + timedelta(microseconds=int(length or 0))


def cycle_id(first_id: str, k: int, started_at: datetime) -> str | None:
    """The id of the cycle ``k`` cycles after ``first_id``, started at ``started_at``; None
    when ``first_id`` has no trailing sequence number (such cycles never form spans)."""
    m = _ID.match(first_id)
    if m is None:
        return None
    stamp = f"{started_at.astimezone(UTC):%Y%m%dT%H%M%S}"
    head = _STAMP.sub(stamp, m.group("head"), count=1)
    return f"{head}{int(m.group('seq')) + k}"
