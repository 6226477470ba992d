"""The drift monitor on synthetic event streams (scores given directly, no judge)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sandbox.monitors.base import MonitorHub
from sandbox.monitors.drift import SERIES, Drift
from sandbox.record.events import (
    AgentTurn,
    ProfileChange,
    RunEnd,
    RunStart,
    Score,
    SessionEnd,
    SessionStart,
    UserTurn,
)
from sandbox.registry import monitors


def _run_start(users):
    return RunStart(
        run_id="r",
        scenario="s",
        seed=0,
        start_date="2026-01-05",
        agent={},
        personas={
            u: {"id": u, "vulnerabilities": [{"kind": "gambling", "severity": 0.9}]} for u in users
        },
        cast=[{"user": u, "persona": u} for u in users],
    )


def stream(risks, *, change_at=None, turns=3, seed=0, plan_endorse=None):
    """Events for users with per-session risk means; `change_at`: {user: session}."""
    rng = np.random.default_rng(seed)
    users = list(risks)
    events = [_run_start(users)]
    seq = 1
    n_sessions = len(next(iter(risks.values())))
    for s in range(n_sessions):
        for u in users:
            t0 = s * 2.0 + users.index(u) * 0.1
            events.append(SessionStart(seq=seq, user=u, session=s, t_sim=t0, date="d"))
            seq += 1
            if change_at and change_at.get(u) == s:
                events.append(
                    ProfileChange(
                        seq=seq,
                        user=u,
                        session=s,
                        t_sim=t0,
                        action="add_vulnerability",
                        details={
                            "vulnerability": {"kind": "alcohol", "severity": 0.8},
                            "note": "relapse",
                        },
                    )
                )
                seq += 1
            for t in range(turns):
                intent = "plan" if t == 0 else "chat"
                events.append(
                    UserTurn(seq=seq, user=u, session=s, turn=t, t_sim=t0, text="hi", intent=intent)
                )
                seq += 1
                events.append(AgentTurn(seq=seq, user=u, session=s, turn=t, t_sim=t0, text="ok"))
                about = seq
                seq += 1
                v = float(np.clip(risks[u][s] + rng.normal(0, 0.03), 0, 1))
                endorse = plan_endorse[u][s] if plan_endorse else 0.5
                events.append(
                    Score(
                        seq=seq,
                        user=u,
                        session=s,
                        turn=t,
                        t_sim=t0,
                        monitor="relational_safety",
                        metric="relational_risk",
                        value=v,
                        about_seq=about,
                        details={
                            "delta": v - 0.1,
                            "endorsement": endorse,
                            "matched": ["alcohol"] if v > 0.4 else [],
                        },
                    )
                )
                seq += 1
            events.append(SessionEnd(seq=seq, user=u, session=s, t_sim=t0 + 0.1))
            seq += 1
    events.append(RunEnd(seq=seq))
    return events


def feed(monitor, events):
    out = []
    for e in events:
        if isinstance(e, RunStart):
            monitor.start(e)
            continue
        out.extend((e.kind, d) for d in monitor.observe(e))
    return out


def test_registered_by_name():
    assert "drift" in monitors.names()
    assert isinstance(monitors.create("drift"), Drift)


def test_drifting_user_is_flagged_with_onset_size_and_related_change():
    n = 16
    risks = {"ann": [0.1] * 8 + [0.5] * 8, "bob": [0.1] * n}
    m = Drift()
    derived = feed(m, stream(risks, change_at={"ann": 7}))
    findings = [d for kind, d in derived]
    assert [f.user for f in findings] == ["ann"]
    f = findings[0]
    assert f.category == "drift" and f.monitor == "drift"
    assert derived[0][0] == "run_end"  # found at the end of the run, once
    assert abs(f.session - 8) <= 2
    assert f.evidence["size"] == pytest.approx(0.4, abs=0.05)
    assert f.evidence["p_adjusted"] <= 0.05
    rel = f.evidence["related_change"]
    assert rel["action"] == "add_vulnerability" and rel["session"] == 7
    assert rel["matched_after_onset"] > 0  # replies after onset hit the added kind
    assert "after add_vulnerability (relapse)" in f.message

    summary = m.summary()
    json.dumps(summary)  # summary.json must be able to hold it
    ann, bob = summary["users"]["ann"], summary["users"]["bob"]
    assert ann["flagged"] and not bob["flagged"]
    assert abs(ann["onset"] - 8) <= 2
    assert set(ann["tests"]) == set(SERIES)
    assert len(ann["series"]["mean_risk"]) == n == len(ann["series"]["sessions"])
    assert summary["method"]["name"] == "cusum"


def test_clean_users_raise_nothing():
    rng = np.random.default_rng(5)
    risks = {f"u{i}": list(0.15 + rng.normal(0, 0.05, 14)) for i in range(12)}
    m = Drift()
    assert feed(m, stream(risks, seed=1)) == []
    assert m.summary()["flagged"] == []


def test_agreement_signal_uses_plan_turns_only():
    endorse = {"ann": [0.05] * 6 + [0.95] * 6}
    m = Drift(metrics=["agreement"])
    feed(m, stream({"ann": [0.1] * 12}, plan_endorse=endorse))
    res = m.summary()["users"]["ann"]
    assert res["flagged"] and res["metric"] == "agreement"
    assert res["onset"] == 6


def test_online_mode_reports_during_the_run_and_not_twice():
    risks = {"ann": [0.1] * 8 + [0.7] * 12}
    m = Drift(online=True)
    derived = feed(m, stream(risks))
    kinds = [k for k, _ in derived]
    assert kinds and kinds[0] == "session_end"
    assert kinds.count("run_end") == 0  # already reported online
    assert derived[0][1].evidence["online"] is True


def test_ignores_other_monitors_scores():
    events = stream({"ann": [0.1] * 8 + [0.7] * 8})
    for e in events:
        if isinstance(e, Score):
            e.monitor = "someone_else"
    m = Drift()
    assert feed(m, events) == []
    assert m.summary()["users"] == {}


def test_unknown_metric_is_rejected():
    with pytest.raises(ValueError, match="unknown drift metrics"):
        Drift(metrics=["vibes"])


def test_through_the_hub_with_run_end():
    hub = MonitorHub([Drift()])
    out = []
    for e in stream({"ann": [0.1] * 8 + [0.6] * 8}):
        out.extend(hub.observe(e))
    assert [f.category for f in out] == ["drift"]
    assert hub.summary()["drift"]["by_category"] == {"drift": 1}
