"""The dashboard in a real browser (Debian's headless Chromium through chromedriver) against a
real ``fleetscale run`` process on a simulated pool replaying a trace.

The page loads and refreshes by itself; the chart holds the API's data points and shows a
decision's reason on hover; the instance table matches the API; pausing from the page (token
asked once, kept in sessionStorage) reaches the journal, ``fleetscale explain`` and the API;
after the controller restarts the page reconnects and shows new cycles. With
``FLEETSCALE_SCREENSHOT=PATH`` the dashboard's screenshot is also written there (the one in
``docs/images/dashboard.png`` was made so).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
TOKEN = "e2e-write-token-5d1c"
T = TypeVar("T")
NONE = "\u2013"  # what the page shows for an unknown value (an en dash)

CONFIG = """\
pools:
  - name: media
    interval: 1
    min: 1
    max: 12
    unit_capacity: 10
    policies: [{kind: target, utilisation: 0.8}]
    governor: {down: {stabilisation: 0}}
    sources: [{kind: trace, path: TRACE, loop: true}]
    provider: {kind: simulated, boot_delay: 2, initial: 3}
journal:
  sql: sqlite:///JOURNAL
  log: false
api:
  listen: 127.0.0.1:PORT
  token_file: TOKEN_FILE
"""


def wait_for(what: str, fn: Callable[[], T | None], timeout: float = 30.0, every: float = 0.25) -> T:
    """``fn()``'s first truthy value within ``timeout`` seconds, else a failure saying ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except Exception as exc:  # a page or server in between states: try again
            last = exc
        else:
            if last:
                return cast(T, last)
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _trace(path: Path) -> None:
    """A 40 s wave between 1.5 and 7.5 instances' worth of load, with a step every 13 s."""
    rows = ["t_seconds,load"]
    for t in range(80):
        rows.append(f"{t},{45 + 30 * math.sin(2 * math.pi * t / 40) + (8 if (t // 13) % 2 else 0):.1f}")
    path.write_text("\n".join(rows) + "\n")


class Controller:
    """A ``fleetscale run`` subprocess that can be stopped and started again."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.journal = f"sqlite:///{tmp / 'journal.db'}"
        _trace(tmp / "trace.csv")
        (tmp / "token").write_text(TOKEN + "\n")
        self.config = tmp / "fleet.yaml"
        self.config.write_text(CONFIG.replace("TRACE", str(tmp / "trace.csv"))
                               .replace("JOURNAL", str(tmp / "journal.db")).replace("PORT", str(self.port))
                               .replace("TOKEN_FILE", str(tmp / "token")))
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        with open(self.tmp / f"run-{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "fleetscale", "run", str(self.config)],
                                         stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp, env=env)
        wait_for("the controller's /readyz", lambda: self.get("/readyz").get("ready"), timeout=40)

    def stop(self) -> int | None:
        """SIGTERM, then the exit code (None if it had to be killed)."""
        code = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        return code

    def get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                return json.load(r)
        except urllib.error.HTTPError as exc:
            return json.load(exc)

    def cli(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "fleetscale", *args, "--journal", self.journal],
                             capture_output=True, text=True, timeout=60, cwd=self.tmp,
                             env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        assert out.returncode == 0, out.stderr
        return out.stdout


@pytest.fixture(scope="module")
def controller() -> Iterator[Controller]:
    tmp = Path(tempfile.mkdtemp(prefix="fleetscale-dashboard-"))
    c = Controller(tmp)
    c.start()
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "needs Debian's chromium and chromium-driver (scripts/test.sh installs them)")
    profile = tempfile.mkdtemp(prefix="fleetscale-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1400,1250", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)  # no Selenium Manager
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(controller: Controller, browser: WebDriver) -> WebDriver:
    browser.get(controller.url + "/")
    wait_for("the pool's view", lambda: browser.execute_script(
        "return window.fleetscale.pool === 'media' && window.fleetscale.polls >= 2"))
    return browser


def js(driver: WebDriver, script: str) -> Any:
    return driver.execute_script(script)


class TestDashboard:
    """The dashboard against a running controller (the tests run in this order)."""

    def test_page_lists_the_pool_and_refreshes(self, page: WebDriver) -> None:
        rows = page.find_elements(By.CSS_SELECTOR, "#pools tbody tr")
        assert [r.get_attribute("data-pool") for r in rows] == ["media"]
        polls = js(page, "return window.fleetscale.polls")
        wait_for("two more refreshes without reloading",
                 lambda: js(page, "return window.fleetscale.polls") >= polls + 2)
        assert js(page, "return document.getElementById('status').dataset.state") == "live"

    def test_chart_holds_the_api_points(self, page: WebDriver, controller: Controller) -> None:
        wait_for("12 points in the chart",
                 lambda: js(page, "return window.fleetscale.chart.data[0].length") >= 12)
        data = js(page, "return window.fleetscale.chart.data.map(function (c) { return Array.from(c); })")
        t, load, demanded, ready, provisioned, marks = data
        api = controller.get("/api/pools/media/series?since=1h")
        by_t = {x: i for i, x in enumerate(api["t"])}
        assert all(x in by_t for x in t), "every point of the chart is a cycle of the API's series"
        for j, x in enumerate(t):
            i = by_t[x]
            assert (load[j], demanded[j], ready[j], provisioned[j]) == (
                api["load"][i], api["demanded"][i], api["ready"][i], api["provisioned"][i])
        assert any(m is not None for m in marks), "decisions are marked"
        assert max(ready) > min(ready), "the fleet followed the wave"

    def test_hover_on_a_decision_shows_its_reason(self, page: WebDriver) -> None:
        marker = js(page, """
            var s = window.fleetscale, u = s.chart, best = null;
            s.markers.forEach(function (m) { if (m.t >= u.data[0][0]) best = m; });
            if (!best) return null;
            return {x: u.valToPos(best.t, 'x'), w: u.over.clientWidth, h: u.over.clientHeight,
                    reason: best.reason};""")
        assert marker is not None
        over = page.find_element(By.CSS_SELECTOR, "#chart .u-over")
        ActionChains(page).move_to_element_with_offset(over, int(marker["x"] - marker["w"] / 2), 0).perform()
        tip = page.find_element(By.ID, "tip")
        wait_for("the tooltip", tip.is_displayed, timeout=5)
        assert marker["reason"] in tip.text
        shot = os.environ.get("FLEETSCALE_SCREENSHOT")
        if shot:
            page.save_screenshot(shot)

    def test_instance_table_matches_the_api(self, page: WebDriver, controller: Controller) -> None:
        def same() -> bool:
            api = controller.get("/api/pools/media/instances")
            rows = js(page, """return Array.from(document.querySelectorAll('#instances tbody tr')).map(
                function (tr) {
                  return Array.from(tr.children).map(function (td) { return td.textContent; });
                });""")
            want = [[i["id"], i["type"], i["state"], NONE if i["sessions"] is None else str(i["sessions"]),
                     i["address"] or NONE] for i in api["instances"]]
            got = [[r[0], r[1], r[2], r[3], r[5]] for r in rows]
            return bool(want) and got == want
        wait_for("the instance table to equal GET /api/pools/media/instances", same, timeout=30, every=0.1)

    def test_pause_from_the_page(self, page: WebDriver, controller: Controller) -> None:
        page.find_element(By.ID, "reason").send_keys("e2e: maintenance window")
        page.find_element(By.ID, "pause").click()
        dialog = page.find_element(By.ID, "token-dialog")
        wait_for("the token dialog", dialog.is_displayed, timeout=5)
        page.find_element(By.ID, "token-input").send_keys(TOKEN)
        page.find_element(By.ID, "token-save").click()
        result = page.find_element(By.ID, "control-result")
        wait_for("the pause to be done", lambda: "done: pause" in result.text, timeout=10)
        assert js(page, "return sessionStorage.getItem('fleetscale.token')") == TOKEN
        assert js(page, "return localStorage.length") == 0
        pool = controller.get("/api/pools/media")
        assert pool["pool"]["paused"] == ["down", "up"]
        assert pool["operator_actions"][-1]["who"] == "api"
        assert pool["operator_actions"][-1]["reason"] == "e2e: maintenance window"
        out = controller.cli("explain", "media", "--last", "30")
        assert "OPERATOR pause (up and down) by api: e2e: maintenance window" in out
        wait_for("the pool list to show the pause", lambda: "paused down+up" in page.find_element(
            By.CSS_SELECTOR, "#pools tbody tr").text, timeout=10)
        # the token was asked once: resuming does not ask again
        page.find_element(By.ID, "resume").click()
        wait_for("the resume to be done", lambda: "done: resume" in result.text, timeout=10)
        assert not dialog.is_displayed()
        assert controller.get("/api/pools/media")["pool"]["paused"] == []

    def test_page_survives_a_controller_restart(self, page: WebDriver, controller: Controller) -> None:
        before = js(page, "return window.fleetscale.lastT")
        old_run = _run_id(controller.get("/api/pools/media/decisions?limit=1")["decisions"][0]["cycle_id"])
        assert controller.stop() == 0, "the API's thread does not hold up a clean stop"
        wait_for("the page to notice", lambda: js(
            page, "return document.getElementById('status').dataset.state") == "down", timeout=15)
        restarted = time.time()
        controller.start()
        wait_for("the page to reconnect", lambda: js(
            page, "return document.getElementById('status').dataset.state") == "live", timeout=20)
        wait_for("points from after the restart",
                 lambda: js(page, "return window.fleetscale.lastT") > restarted, timeout=20)
        assert js(page, "return window.fleetscale.lastT") > before
        new_run = _run_id(controller.get("/api/pools/media/decisions?limit=1")["decisions"][0]["cycle_id"])
        assert new_run != old_run
        wait_for("the newest decision shown to be the restarted controller's", lambda: _run_id(
            page.find_element(By.CSS_SELECTOR, "#decisions li").get_attribute("data-cycle") or "") == new_run,
            timeout=10)


def _run_id(cycle_id: str) -> str:
    """``media:20261130T223809:b60971.4`` -> ``b60971`` (the process's run id)."""
    return cycle_id.rsplit(":", 1)[-1].split(".")[0]
