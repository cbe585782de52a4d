"""``fleetscale simulate`` checks its arguments before the run: a clear error and exit 2,
never an internal error, a traceback, a report full of ``inf``, or an output written first."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetscale.cli import main

Cap = pytest.CaptureFixture[str]


def trace(tmp_path: Path, rows: list[str] | None = None, name: str = "trace.csv") -> Path:
    path = tmp_path / name
    if rows is None:
        rows = [f"{60 * k},{v}" for k, v in enumerate([10, 30, 60, 20, 5, 70, 40] * 3)]
    path.write_text("t_seconds,load\n" + "\n".join(rows) + "\n")
    return path


def simulate(capsys: Cap, *argv: str) -> list[str]:
    code = main(["simulate", *argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "internal error" not in captured.err
    assert code == 2, captured
    return captured.err.splitlines()


class TestOutputPaths:
    """Each output file is checked (directory, extension) before the run."""

    @pytest.mark.parametrize(
        ("option", "name", "needle"),
        [
            ("--timeline", "out.json", "--timeline: the file name must end in .csv"),
            ("--report", "out.csv", "--report: the file name must end in .json"),
            ("--plot", "out.html", "--plot: the file name must end in .png or .svg or .pdf"),
            ("--report", "missing/out.json", "--report: no such directory"),
            ("--timeline", "somedir.csv", "--timeline: is a directory"),
        ],
        ids=["timeline-ext", "report-ext", "plot-ext", "no-dir", "is-dir"],
    )
    def test_refused_before_the_run(self, tmp_path: Path, capsys: Cap, option: str, name: str,
                                    needle: str) -> None:
        (tmp_path / "somedir.csv").mkdir()
        others = [] if option == "--timeline" else ["--timeline", str(tmp_path / "t.csv")]
        lines = simulate(capsys, "--trace", str(trace(tmp_path)), option, str(tmp_path / name), *others)
        assert any(line.startswith(needle) for line in lines), lines
        assert not (tmp_path / "t.csv").exists(), "nothing was written: the run never started"


class TestNumbers:
    """Non-finite or absurd --boot-delay, --drain-time, --interval, --capacity, --scale."""

    @pytest.mark.parametrize(
        ("argv", "needle"),
        [
            (["--boot-delay", "inf"], "--boot-delay: must be a finite number (got inf)"),
            (["--drain-time", "inf"], "--drain-time: must be a finite number (got inf)"),
            (["--interval", "inf"], "--interval: must be a finite number (got inf)"),
            (["--interval", "1e-6"], "--interval: must be within 0.1 .. 86400 seconds"),
            (["--boot-delay", "1e300"], "--boot-delay: must be within 0 .. 604800 seconds"),
            (["--capacity", "inf"], "--capacity: must be a finite number (got inf)"),
            (["--scale", "1e300"], "--scale: must be within"),
            (["--min", "-1"], "--min: must be within 0 .. 1e+06"),
            (["--max", "100000000000"], "--max: must be within 1 .. 1e+06"),
            (["--boot-failure-rate", "nan"], "--boot-failure-rate: must be a finite number"),
            (["--boot-failure-rate", "1"], "--boot-failure-rate: must be within [0, 1)"),
        ],
        ids=["boot-inf", "drain-inf", "interval-inf", "interval-tiny", "boot-huge", "capacity-inf",
             "scale-huge", "min-negative", "max-huge", "failure-nan", "failure-one"],
    )
    def test_refused(self, tmp_path: Path, capsys: Cap, argv: list[str], needle: str) -> None:
        lines = simulate(capsys, "--trace", str(trace(tmp_path)), *argv)
        assert any(line.startswith(needle) for line in lines), lines


class TestTraces:
    """A trace too short, too loaded or too long is refused, naming --trace."""

    def test_shorter_than_one_interval(self, tmp_path: Path, capsys: Cap) -> None:
        path = trace(tmp_path, ["0,5", "10,6"])
        (line,) = simulate(capsys, "--trace", str(path), "--interval", "60")
        assert line.startswith("--trace: covers 20 s, shorter than one decision interval (60 s)")

    @pytest.mark.parametrize("load", ["1e20", "1e300", "1e400", "inf", "nan"])
    def test_absurd_loads(self, tmp_path: Path, capsys: Cap, load: str) -> None:
        path = trace(tmp_path, ["0,5", f"60,{load}", "120,5"])
        (line,) = simulate(capsys, "--trace", str(path))
        assert line.startswith(f"--trace: {path} line 3: load is"), line

    def test_scaled_loads(self, tmp_path: Path, capsys: Cap) -> None:
        path = trace(tmp_path, ["0,5", "60,1e14", "120,5"])
        (line,) = simulate(capsys, "--trace", str(path), "--scale", "100")
        assert line.startswith("--scale: the trace's peak load x --scale must be at most 1e+15")

    def test_too_many_decisions(self, tmp_path: Path, capsys: Cap) -> None:
        path = trace(tmp_path, ["0,5", "86400,5", "172800,5"] + [f"{86400 * k},5" for k in range(3, 200)])
        (line,) = simulate(capsys, "--trace", str(path), "--interval", "1")
        assert line.startswith("--interval: ") and "decisions" in line

    @pytest.mark.parametrize(
        ("content", "needle"),
        [
            (b"t_seconds,load\n0,1\n60,\x00\n", "binary data (a NUL byte at line 3)"),
            (b"t_seconds,load\n0,1\n60,\xff\n", "not UTF-8 text (byte 0xff at line 3)"),
            (b"", "line 1: expected the header"),
        ],
        ids=["binary", "not-utf8", "empty"],
    )
    def test_unreadable(self, tmp_path: Path, capsys: Cap, content: bytes, needle: str) -> None:
        path = tmp_path / "trace.csv"
        path.write_bytes(content)
        (line,) = simulate(capsys, "--trace", str(path))
        assert line.startswith("--trace: ") and needle in line, line

    def test_directory(self, tmp_path: Path, capsys: Cap) -> None:
        (line,) = simulate(capsys, "--trace", str(tmp_path))
        assert line.startswith("--trace: ") and "is a directory" in line

    def test_a_good_run_still_works(self, tmp_path: Path, capsys: Cap) -> None:
        out = tmp_path / "t.csv"
        assert main(["simulate", "--trace", str(trace(tmp_path)), "--timeline", str(out)]) == 0
        assert out.exists() and "steps" in capsys.readouterr().out
