"""Fidelity of replay and of the simulator, measured on a real pool.

A real SIP pool (the ``local`` provider's sipp gateways on the real Kamailio + MariaDB, sipp
callers on a scripted call profile of about three minutes, the controller cycling every 2 s
with the SQL journal) is recorded, then:

(a) its journal is replayed with its own recorded configuration through ``cycle.step``:
    decisions reproduced (goal 100 %);
(b) ``simulate`` runs on the recorded load alone (the replay's counterfactual with the pool's
    own configuration; boot delay, drain time and the sessions' mean holding time estimated
    from the journal; cycles at the recorded times): share of steps where the
    simulated instance count is within ±1 of the real one (goal >= 95 %) and the
    instance-hours difference (goal <= 5 %).

Writes ``bench/results/fidelity.md`` (+ ``fidelity.json``).

    PYTHONPATH=src:. python bench/fidelity.py [--journal URL]   # URL: re-analyse a kept journal
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.e2e.sip.fidelity_run import PROFILE, fidelity, record  # noqa: E402
from tests.fixtures.kamailio import running_kamailio  # noqa: E402
from tests.fixtures.mysql import MySQL  # noqa: E402
from tests.fixtures.services import answers  # noqa: E402


def _sessions(s: dict[str, Any] | None) -> str:
    if not s:
        return "no session model (the journal kept no per-instance sessions)"
    return (f"session model: mean holding time {s['mean_holding']:.1f} s (Little's law), "
            f"{s['distribution']}, {s['dispatch']} dispatch, drain cap {s['drain_timeout'] or 'none'}")


def main() -> None:
    from fleetscale.journal.log import configure_logging

    configure_logging("warning")
    began = time.monotonic()
    if len(sys.argv) == 3 and sys.argv[1] == "--journal":
        url = sys.argv[2]
    else:
        if not answers("127.0.0.1", 3306):
            sys.exit("bench/fidelity.py needs MariaDB on 127.0.0.1:3306")
        keep = Path(tempfile.mkdtemp(prefix="fidelity-"))
        with running_kamailio(MySQL("127.0.0.1", 3306)) as k:
            url = record(k, keep)
    figures = fidelity(url)
    print(f"journal: {url}")
    figures["wall_seconds"] = round(time.monotonic() - began, 1)
    out = ROOT / "bench" / "results"
    (out / "fidelity.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Fidelity: replay and simulate against a real SIP pool", "",
        f"Profile: {len(PROFILE)} bursts of sipp calls over ~3 minutes, 2 calls per gateway, "
        "controller every 2 s, local provider (sipp gateways registered to Kamailio).", "",
        "| measure | goal | measured |", "|---|---|---|",
        f"| decisions reproduced by replay | 100 % | {figures['decisions_reproduced']} / "
        f"{figures['decisions_total']} ({figures['decisions_reproduced_percent']:.1f} %) |",
        f"| steps with simulated instances within ±1 of real | >= 95 % | "
        f"{figures['within_one_instance_percent']:.1f} % of {figures['steps_compared']} |",
        f"| instance-hours difference | <= 5 % | {figures['instance_hours_difference_percent']:.1f} % "
        f"(real {figures['instance_hours_real']:.4f} h, "
        f"simulated {figures['instance_hours_simulated']:.4f} h) |",
        f"| (in service only: ready, draining left out) within ±1 | | "
        f"{figures['in_service_within_one_percent']:.1f} % |",
        f"| (in service only) hours difference | | {figures['in_service_hours_difference_percent']:.1f} % |",
        "", f"Boot delay estimated from the journal: {figures['boot_delay_estimated_s']:.1f} s, drain time "
        f"{figures['drain_time_estimated_s']:.1f} s; {_sessions(figures['sessions_estimated'])}; "
        f"missing data: {figures['gaps']}; wall time {figures['wall_seconds']} s.", "",
        "Instances per step (real / simulated):", "",
        f"    real: {' '.join(str(x) for x in figures['real_instances'])}",
        f"    sim:  {' '.join(str(x) for x in figures['simulated_instances'])}",
    ]
    (out / "fidelity.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
