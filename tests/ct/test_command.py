"""`phantomwatch ct tail` against the emulator: JSON Lines out, errors and exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.sources.ct.command import main
from service.sources.ct.emulator import Emulator
from tests.ct.conftest import REPO


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_bounded_tail_of_one_log(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    url = emulator.urls["log_list"]
    code = main(["tail", "--log-list", url, "--log", "Phantom6962", "--from", "0", "--to", "9"])
    out, err = capsys.readouterr()
    assert code == 0, err
    records = _lines(out)
    assert [r["index"] for r in records] == list(range(10))
    assert records[0] == {
        "log": "PhantomWatch Emulator 'Phantom6962'",
        "index": 0,
        "timestamp": records[0]["timestamp"],
        "entry_type": "precert",
        "names": ["paypa1.com", "www.paypa1.com"],
    }
    assert records[1]["entry_type"] == "x509"
    assert records[2]["names"] == ["login-paypal.com.example.ru"]


def test_tail_both_logs_from_a_log_list_file(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "logs.json"
    path.write_bytes(emulator.log_list_bytes())
    bad = emulator.add_malformed()
    args = ["tail", "--log-list", str(path), "--from", "250", "--to", str(bad), "--batch", "16"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    records = _lines(out)
    assert len(records) == 2 * (bad - 250)  # the malformed entry is skipped in both logs
    assert {r["log"] for r in records} == {
        "PhantomWatch Emulator 'Phantom6962'",
        "PhantomWatch Emulator 'PhantomTiles'",
    }
    assert err.count(f"skipping malformed entry {bad}") == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--log", "NoSuchLog"], "no log named"),
        (["--log", "Phantom"], "matches 2 logs"),
        (["--from", "5", "--to", "2"], "--to must not be below --from"),
        (["--batch", "0"], "--batch"),
    ],
)
def test_bad_input_exits_2(
    emulator: Emulator, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tail", "--log-list", emulator.urls["log_list"], *argv]) == 2
    assert message in capsys.readouterr().err


def test_unreadable_log_list_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tail", "--log-list", str(tmp_path / "missing.json")]) == 2
    assert "cannot read log list" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("{]")
    assert main(["tail", "--log-list", str(tmp_path / "junk.json")]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_lying_log_fails_verification_with_exit_1(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.static.faults.lie_about_root = True
    url = emulator.urls["log_list"]
    code = main(["tail", "--log-list", url, "--log", "PhantomTiles", "--from", "0", "--to", "299"])
    assert code == 1
    assert "VERIFICATION FAILED" in capsys.readouterr().err


def test_follow_the_head_then_ctrl_c_exits_cleanly(emulator: Emulator) -> None:
    cmd = [
        sys.executable,
        "-m",
        "service.sources.ct.command",
        "tail",
        "--log-list",
        emulator.urls["log_list"],
        "--log",
        "PhantomTiles",
        "--from",
        "290",
        "--poll-interval",
        "0.1",
        "--partial-wait",
        "0",
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        seen = [json.loads(proc.stdout.readline())["index"] for _ in range(10)]
        assert seen == list(range(290, 300))
        emulator.add_certificates([["new-after-start.example"]])
        record = json.loads(proc.stdout.readline())
        assert record["index"] == 300
        assert record["names"] == ["new-after-start.example"]
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert "interrupted" in err
