"""The SimPy world: users living on a simulated calendar, talking to one shared agent.

Each simulated user is a SimPy process: it waits until its next session, applies the
evolution steps that are due, then talks turn by turn. Users interleave; SimPy breaks
ties by insertion order, and every random draw comes from a generator seeded from the
scenario seed and the user id, so one seed always gives one transcript. No wall-clock
time is read here: simulated time is ``env.now`` in days.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

import simpy

from sandbox.contracts import BackendError, Message, Participant, TurnContext
from sandbox.record.events import (
    AgentTurn,
    Error,
    Event,
    ForgetRequest,
    ProfileChange,
    SessionEnd,
    SessionStart,
    UserTurn,
)
from sandbox.registry import policies
from sandbox.sim.persona_state import PersonaState
from sandbox.spec import Bundle
from sandbox.spec.scenario import Gap

__all__ = ["RunStopped", "World", "sim_date", "user_rng"]


class RunStopped(Exception):
    """The scenario's `on_agent_error: stop` ended the run early."""


class _AgentLike(Participant, Protocol):
    def end_session(self, ctx: TurnContext) -> None: ...


def user_rng(seed: int, user: str, purpose: str = "user") -> random.Random:
    """A generator for one user and purpose, independent of every other user's draws."""
    digest = hashlib.sha256(f"{seed}|{user}|{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def sim_date(start_date: str, t_days: float) -> str:
    """ISO date-time of a simulated moment."""
    start = dt.datetime.fromisoformat(start_date)
    return (start + dt.timedelta(days=t_days)).isoformat(timespec="minutes")


def _gap(g: Gap, rng: random.Random) -> float:
    if g.dist == "fixed":
        return g.days
    if g.dist == "uniform":
        return rng.uniform(g.low, g.high)
    return rng.expovariate(1.0 / g.days)


@dataclass
class World:
    """Runs one scenario's cast against an agent, emitting events."""

    bundle: Bundle
    agent: _AgentLike
    emit: Callable[[Event], Any]
    control: Participant | None = None
    on_turn: Callable[[], None] | None = None
    on_session_end: Callable[[], None] | None = None
    turns: int = 0
    errors: int = 0
    states: dict[str, PersonaState] = field(default_factory=dict)

    def run(self) -> None:
        """Simulate every user to the end of their schedule."""
        env = simpy.Environment()
        self._stop: BaseException | None = None
        for entry in self.bundle.cast:
            state = PersonaState.new(entry.user_id, entry.persona)
            self.states[entry.user_id] = state
            env.process(self._user(env, state))
        env.run()
        if self._stop is not None:
            raise self._stop

    def _user(self, env: simpy.Environment, st: PersonaState) -> Generator[Any, Any, None]:
        sc = self.bundle.scenario
        seed = sc.seed
        rng = user_rng(seed, st.user_id)
        spec = st.persona.policy
        policy = policies.create(
            spec.name,
            state=st,
            rng=user_rng(seed, st.user_id, "policy"),
            scripts=sc.scripts,
            **spec.args,
        )
        yield env.timeout(rng.uniform(0, sc.schedule.start_jitter_days))
        for session in range(sc.schedule.sessions_per_user):
            if self._stop is not None:
                return
            for idx, step in st.due_steps(env.now, session):
                details = st.apply(idx, step)
                if details is not None:
                    self.emit(
                        ProfileChange(
                            t_sim=env.now,
                            user=st.user_id,
                            session=session,
                            action=step.action,
                            details=details,
                        )
                    )
            self.emit(
                SessionStart(
                    t_sim=env.now,
                    user=st.user_id,
                    session=session,
                    date=sim_date(sc.start_date, env.now),
                )
            )
            policy.begin_session(session, sc.schedule.turns_per_session)
            reason = yield from self._session(env, st, policy, session)
            self.emit(SessionEnd(t_sim=env.now, user=st.user_id, session=session, reason=reason))  # type: ignore[arg-type]
            if self.on_session_end is not None:
                self.on_session_end()
            if reason == "run_stopped":
                return
            yield env.timeout(_gap(sc.schedule.gap, rng))

    def _session(
        self, env: simpy.Environment, st: PersonaState, policy: Any, session: int
    ) -> Generator[Any, Any, str]:
        sc = self.bundle.scenario
        history: list[Message] = []
        reply: Message | None = None
        turn = 0
        minutes = sc.schedule.minutes_per_turn / (24 * 60)
        while not policy.done():
            ctx = TurnContext(st.user_id, session, turn, env.now, sc.seed, self.emit, list(history))
            msg = policy.step(reply, ctx)
            meta = msg.meta
            at: dict[str, Any] = {
                "t_sim": env.now,
                "user": st.user_id,
                "session": session,
                "turn": turn,
            }
            self.emit(
                UserTurn(
                    **at,
                    text=msg.text,
                    intent=str(meta.get("intent", "chat")),
                    shares=list(meta.get("shares", [])),
                    reaction=meta.get("reaction"),
                    policy=str(meta.get("policy", policy.name)),
                    style=str(meta["style"]) if meta.get("style") else None,
                )
            )
            if meta.get("forget"):
                self.emit(ForgetRequest(**at, secret=str(meta["forget"]), text=msg.text))
            # the agent (and its control) get the words only: intent, shares, policy and
            # every other label in `meta` is ground truth for the monitors, never input
            seen = Message(msg.role, msg.text)
            history.append(seen)
            try:
                reply = self.agent.step(seen, ctx)
            except BackendError as exc:
                self.errors += 1
                self.emit(Error(**at, source="agent", message=str(exc), attempts=exc.attempts))
                if sc.on_agent_error == "stop":
                    self._stop = RunStopped(f"agent error on {st.user_id} s{session} t{turn}")
                    return "run_stopped"
                return "agent_error"
            control_text = None
            if self.control is not None:
                silent = TurnContext(st.user_id, session, turn, env.now, sc.seed, _noop, [])
                try:
                    control_text = self.control.step(seen, silent).text
                except BackendError as exc:
                    self.emit(
                        Error(**at, source="control", message=str(exc), attempts=exc.attempts)
                    )
            m = reply.meta
            self.emit(
                AgentTurn(
                    **at,
                    text=reply.text,
                    components=list(m.get("components", [])),
                    context=list(m.get("context", [])),
                    state=dict(m.get("state", {})),
                    backend=str(m.get("backend", "")),
                    control_text=control_text,
                    usage=dict(m.get("usage", {})),
                )
            )
            history.append(reply)
            self.turns += 1
            if self.on_turn is not None:
                self.on_turn()
            turn += 1
            yield env.timeout(minutes)
        self.agent.end_session(
            TurnContext(st.user_id, session, turn, env.now, sc.seed, self.emit, history)
        )
        return "completed"


def _noop(_event: Event) -> None:
    return None
