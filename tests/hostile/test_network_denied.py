"""The quickstart runs in a network namespace with loopback only (``unshare -n``), and no
process of it even tries to reach another address.

Every Python process started for the run loads ``data/netcount/sitecustomize.py`` (through
PYTHONPATH), whose audit hook writes one line per socket connect, send or address lookup
to a file. The namespace makes any outbound attempt fail; the count shows there was none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NETCOUNT = HERE / "data" / "netcount"
OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ANONYMIZED_TELEMETRY")


def denied(argv: list[str], attempts: Path, timeout: int) -> subprocess.CompletedProcess[str]:
    """Run `argv` in a new network namespace with loopback up, counting socket attempts."""
    unshare = shutil.which("unshare")
    assert unshare is not None, "util-linux unshare is needed for the network-denied run"
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_VARS}
    env["PYTHONPATH"] = str(NETCOUNT)  # the package must switch the hub off by itself
    env["SANDBOX_NETCOUNT_FILE"] = str(attempts)
    cmd = [unshare, "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]
    return subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )  # the timeout is a hang guard, not a timing assertion


def is_loopback(row: dict[str, Any]) -> bool:
    target = row["target"]
    if row["unix"] or target is None:
        return True
    host = str(target)
    return host.startswith(("127.", "/", "\x00")) or host in ("::1", "localhost", "")


def tally(attempts: Path) -> tuple[Counter[str], list[dict[str, Any]]]:
    rows = [json.loads(x) for x in attempts.read_text().splitlines()] if attempts.exists() else []
    counts = Counter("loopback" if is_loopback(r) else "outbound" for r in rows)
    return counts, [r for r in rows if not is_loopback(r)]


def test_the_counter_sees_loopback_and_outbound_attempts(tmp_path: Path) -> None:
    """The control: without it, zero outbound attempts could mean the hook never ran."""
    attempts = tmp_path / "attempts.jsonl"
    code = (
        "import socket\n"
        "for host in ('127.0.0.1', '10.255.0.1'):\n"
        "    s = socket.socket(); s.settimeout(1)\n"
        "    try: s.connect((host, 9))\n"
        "    except OSError: pass\n"
        "try: socket.getaddrinfo('example.com', 443)\n"
        "except OSError: pass\n"
    )
    r = denied([sys.executable, "-c", code], attempts, timeout=60)
    assert r.returncode == 0, r.stderr
    counts, outbound = tally(attempts)
    assert counts == {"loopback": 1, "outbound": 2}, counts
    assert {(o["event"], o["target"]) for o in outbound} == {
        ("socket.connect", "10.255.0.1"),
        ("socket.getaddrinfo", "example.com"),
    }


@pytest.mark.slow
def test_quickstart_with_the_network_denied_tries_no_outbound_connection(tmp_path: Path) -> None:
    attempts = tmp_path / "attempts.jsonl"
    sandbox = str(Path(sys.executable).parent / "sandbox")
    argv = [sandbox, "run", "scenarios/quickstart.yaml", "--out", str(tmp_path / "runs"),
            "--run-id", "offline", "--quiet"]  # fmt: skip
    r = denied(argv, attempts, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "status=complete" in r.stdout
    summary = json.loads((tmp_path / "runs" / "offline" / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["errors"] == 0
    counts, outbound = tally(attempts)
    assert outbound == [], outbound[:10]
    # how many loopback connections the run made (none are needed for local ChromaDB)
    print(f"\nnetwork-denied quickstart: {counts['loopback']} loopback, 0 outbound attempts")
