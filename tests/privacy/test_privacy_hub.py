from __future__ import annotations

import json

import pytest
from privacy_streams import MAYA_CANARY, MAYA_SECRET, Stream

from sandbox.monitors.base import MonitorHub
from sandbox.monitors.privacy import CrossUserLeakage, Retention
from sandbox.monitors.privacy import detector as det
from sandbox.record.events import AgentTurn, Retrieval, UserTurn, parse_event
from sandbox.record.reader import iter_events
from sandbox.record.writer import RunWriter
from sandbox.registry import monitors
from sandbox.spec.scenario import MonitorSpec

NAMES = ["cross_user_leakage", "memory_poisoning", "pii_exposure", "retention"]


def test_registered_by_name_and_built_from_specs():
    assert set(NAMES) <= set(monitors.names())
    hub = MonitorHub([MonitorSpec(name="cross_user_leakage", args={"partial_min_chars": 8})])
    (m,) = hub.monitors
    assert isinstance(m, CrossUserLeakage) and m.cfg.canary.partial_min_chars == 8


def test_monitor_exception_is_recorded_and_the_run_goes_on(monkeypatch):
    leak, ret = CrossUserLeakage(), Retention()
    s = Stream([leak, ret])
    s.user("maya", MAYA_SECRET, shares=("hiv",))
    s.write("maya", "m1", MAYA_SECRET)

    calls = {"n": 0}
    real = leak.idx.scan

    def flaky(*a, **k):  # fails once, then works
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return real(*a, **k)

    monkeypatch.setattr(leak.idx, "scan", flaky)
    s.reply("john", f"ref {MAYA_CANARY}", turn=1)  # leak monitor crashes here
    s.forget("maya", "hiv", turn=2)
    s.t = 1.0
    s.reply("john", f"ref {MAYA_CANARY}", turn=3)  # both monitors work again

    errors = [d for d in s.derived if d.kind == "monitor_error"]
    assert len(errors) == 1
    err = errors[0]
    assert err.monitor == "cross_user_leakage" and "boom" in err.error  # type: ignore[attr-defined]
    assert err.about_seq == next(e.seq for e in s.events if e.kind == "agent_turn")
    assert [f.category for f in s.findings(monitor="cross_user_leakage")] == ["surfaced"]
    assert [f.category for f in s.findings(monitor="retention")] == ["surfaced"]
    assert s.hub.summary()["cross_user_leakage"]["errors"] == 1


@pytest.mark.parametrize("name", NAMES)
def test_every_monitor_survives_events_before_run_start(name, monkeypatch):
    def no_detector() -> object:
        raise det.DetectorUnavailable("not needed here")

    monkeypatch.setattr(det, "load_detector", no_detector)
    hub = MonitorHub([MonitorSpec(name=name)])

    for ev in [
        UserTurn(text="hi", user="x"),
        Retrieval(namespace=["m"], user="x"),
        AgentTurn(text="hello", user="x"),
    ]:
        out = hub.observe(ev)
        assert all(d.kind != "monitor_error" for d in out)


def test_findings_go_to_events_jsonl_and_summary(tmp_path):
    s = Stream([CrossUserLeakage()])
    writer = RunWriter(tmp_path / "run", {"run_id": "r1"})
    for ev in s.events:
        writer.emit(ev)
    s.user("maya", MAYA_SECRET, shares=("hiv",))
    s.reply("john", f"ref {MAYA_CANARY}")
    for ev in s.events[1:]:
        writer.emit(ev)
    for d in s.derived:
        writer.emit(d)
    writer.write_summary({"monitors": s.hub.summary()})
    writer.close("complete")

    events = list(iter_events(tmp_path / "run"))
    findings = [e for e in events if e["kind"] == "finding"]
    assert len(findings) == 1 and findings[0]["evidence"]["secret"] == "hiv"
    parse_event(findings[0])  # round-trips through the schema
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["monitors"]["cross_user_leakage"]["leak_matrix"]["surfaced"] == {
        "maya": {"john": 1}
    }


def test_monitors_import_nothing_from_the_system_under_test():
    import ast
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "sandbox" / "monitors" / "privacy"
    banned = ("sandbox.agent", "sandbox.memory", "sandbox.sim", "sandbox.privacy_redact")
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for n in names:
                assert not n.startswith(banned), f"{path.name} imports {n}"
