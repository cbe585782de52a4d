"""``--plot``: an overview plus zooms on the worst day and the worst episode, in one PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from fleetscale.sim.metrics import demanded
from fleetscale.sim.plot import plot_timeline
from fleetscale.sim.run import Timeline

PNG = b"\x89PNG\r\n\x1a\n"


def _timeline(days: int, holes: dict[int, int], *, interval: float = 300.0,
              peak_at: int | None = None) -> Timeline:
    """A daily sine of load, ready = demanded except ``holes`` (index -> units missing)."""
    n = int(days * 86400 / interval)
    t = np.arange(n, dtype=np.float64) * interval
    load = 20 + 15 * np.sin(2 * np.pi * t / 86400)
    if peak_at is not None:
        load[peak_at] = 80.0
    d = demanded(load, 1.0, 1)
    ready = d.copy()
    for k, missing in holes.items():
        ready[k] -= missing
    return Timeline(t=t, load=load, demanded=d, ready=ready, provisioned=ready + 2, interval=interval,
                    capacity=1.0)


def _height(path: Path) -> int:
    assert path.read_bytes()[:8] == PNG
    return int(image.imread(str(path)).shape[0])


class TestPanels:
    """Which zooms are drawn, and where."""

    def test_worst_day_and_worst_episode(self, tmp_path: Path) -> None:
        holes = {10: 1} | {k: 6 for k in range(400, 406)}  # small on day 1, the worst on day 2
        run = _timeline(3, holes)
        path = tmp_path / "p.png"
        zooms = plot_timeline(run, path, title="three days", others={"oracle": run})
        assert len(zooms) == 2
        day, episode = zooms
        assert (day.start, day.end) == (288, 576)
        assert "day of the worst under-provisioned episode" in day.label
        assert episode.start <= 400 and episode.end >= 406
        assert "30 min, up to 6 units short, 3.00 unit-hours short" in episode.label
        assert _height(path) == 1000  # overview + two zooms

    def test_never_short_zooms_on_the_busiest_day(self, tmp_path: Path) -> None:
        run = _timeline(3, {}, peak_at=700)
        zooms = plot_timeline(run, tmp_path / "p.png")
        assert [(z.start, z.end) for z in zooms] == [(576, 864)]
        assert "highest demand (never short)" in zooms[0].label
        assert _height(tmp_path / "p.png") == 680

    def test_one_short_day_only_zooms_on_the_episode(self, tmp_path: Path) -> None:
        zooms = plot_timeline(_timeline(1, {100: 2}), tmp_path / "p.png")
        assert len(zooms) == 1 and "worst under-provisioned episode" in zooms[0].label

    def test_one_day_never_short_is_one_panel(self, tmp_path: Path) -> None:
        assert plot_timeline(_timeline(1, {}), tmp_path / "p.png") == ()
        assert _height(tmp_path / "p.png") == 360

    def test_limit_plots_the_first_rows(self, tmp_path: Path) -> None:
        run = _timeline(3, {k: 6 for k in range(700, 706)})
        zooms = plot_timeline(run, tmp_path / "p.png", limit=288)  # the hole is after the limit
        assert zooms == ()

    def test_empty_timeline_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="empty"):
            plot_timeline(_timeline(1, {}), tmp_path / "p.png", limit=0)
