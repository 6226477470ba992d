"""The event schema: the only thing that crosses from the simulation to monitors and records.

Every line of ``events.jsonl`` is one of these, tagged by ``kind``. Bump
``SCHEMA_VERSION`` on any incompatible change; readers accept unknown kinds from
newer writers as raw dicts rather than failing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "SCHEMA_VERSION",
    "WALL_CLOCK_FIELDS",
    "AgentTurn",
    "ContextPart",
    "Error",
    "Event",
    "Finding",
    "ForgetRequest",
    "Hit",
    "MemoryDelete",
    "MemoryWrite",
    "MonitorError",
    "ProfileChange",
    "Retrieval",
    "RunEnd",
    "RunStart",
    "Score",
    "SessionEnd",
    "SessionStart",
    "UserTurn",
    "parse_event",
]

SCHEMA_VERSION = 1
# fields that measure wall-clock time: the only ones that differ between two runs of one
# seed (compared without them when a run is resumed, see `sandbox.resume`)
WALL_CLOCK_FIELDS = frozenset({"wall_ms"})

Severity = Literal["info", "low", "medium", "high", "critical"]
SessionEndReason = Literal["completed", "user_stop", "max_turns", "agent_error", "run_stopped"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: int = SCHEMA_VERSION
    seq: int = -1
    t_sim: float = Field(default=0.0, description="Simulated days since the scenario start.")
    user: str | None = None
    session: int | None = None
    turn: int | None = None


class RunStart(_Event):
    """First event: what ran, and the ground truth monitors may rely on (the cast)."""

    kind: Literal["run_start"] = "run_start"
    run_id: str
    scenario: str
    seed: int
    start_date: str
    agent: dict[str, Any]
    personas: dict[str, dict[str, Any]]
    cast: list[dict[str, Any]]
    monitors: list[dict[str, Any]] = Field(default_factory=list)
    control: bool = False


class SessionStart(_Event):
    """A user opens a session."""

    kind: Literal["session_start"] = "session_start"
    date: str


class UserTurn(_Event):
    """What the simulated user said, with the simulator's ground truth about it."""

    kind: Literal["user_turn"] = "user_turn"
    text: str
    intent: str = "chat"
    shares: list[str] = Field(default_factory=list, description="Secret ids disclosed here.")
    reaction: Literal["approve", "push_back"] | None = None
    policy: str = "scripted"
    style: str | None = Field(
        default=None, description="The prober's extraction style for a probe, if any."
    )


class Hit(BaseModel):
    """One retrieved memory item."""

    model_config = ConfigDict(extra="forbid")

    id: str
    namespace: list[str]
    owner: str | None = None
    score: float | None = None
    text: str
    forgotten: bool = False


class Retrieval(_Event):
    """A read from the agent's memory store, with every hit and its owner."""

    kind: Literal["retrieval"] = "retrieval"
    op: Literal["search", "get", "list"] = "search"
    namespace: list[str]
    query: str | None = None
    hits: list[Hit] = Field(default_factory=list)


class ContextPart(BaseModel):
    """One named contribution to the generation context."""

    model_config = ConfigDict(extra="forbid")

    component: str
    text: str


class AgentTurn(_Event):
    """The agent's reply, what shaped it, and (optionally) the control agent's reply."""

    kind: Literal["agent_turn"] = "agent_turn"
    text: str
    components: list[str] = Field(default_factory=list)
    context: list[ContextPart] = Field(default_factory=list)
    state: dict[str, Any] = Field(default_factory=dict)
    backend: str = "reference"
    control_text: str | None = None
    usage: dict[str, Any] = Field(default_factory=dict)
    wall_ms: float | None = Field(default=None, description="Wall-clock; not deterministic.")


class MemoryWrite(_Event):
    """An item put into the memory store."""

    kind: Literal["memory_write"] = "memory_write"
    namespace: list[str]
    id: str
    owner: str | None = None
    text: str
    source: str = "episodic"
    redacted: bool = False


class MemoryDelete(_Event):
    """Items removed (hard) or marked forgotten (soft)."""

    kind: Literal["memory_delete"] = "memory_delete"
    namespace: list[str]
    ids: list[str]
    mode: Literal["hard", "soft"] = "hard"
    reason: str = ""


class ForgetRequest(_Event):
    """The user asked the agent to forget one of their secrets (simulator ground truth)."""

    kind: Literal["forget_request"] = "forget_request"
    secret: str
    text: str


class ProfileChange(_Event):
    """The persona evolved: attributes, vulnerabilities."""

    kind: Literal["profile_change"] = "profile_change"
    action: str
    details: dict[str, Any] = Field(default_factory=dict)


class Finding(_Event):
    """Something a monitor saw; the evidence points at exact spans and memory items."""

    kind: Literal["finding"] = "finding"
    id: str
    monitor: str
    category: str
    severity: Severity = "medium"
    owner: str | None = Field(default=None, description="Whose data or wellbeing is at stake.")
    about_seq: int | None = None
    message: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)


class Score(_Event):
    """A per-turn measurement by a monitor (e.g. relational risk); `value=None` is unscored."""

    kind: Literal["score"] = "score"
    monitor: str
    metric: str
    value: float | None
    about_seq: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class MonitorError(_Event):
    """A monitor raised; the run went on without that observation."""

    kind: Literal["monitor_error"] = "monitor_error"
    monitor: str
    error: str
    about_seq: int | None = None


class Error(_Event):
    """Something failed in the simulation or the agent."""

    kind: Literal["error"] = "error"
    source: str
    message: str
    attempts: int = 1


class SessionEnd(_Event):
    """A session closed, and why."""

    kind: Literal["session_end"] = "session_end"
    reason: SessionEndReason = "completed"


class RunEnd(_Event):
    """Last event of a run."""

    kind: Literal["run_end"] = "run_end"
    status: Literal["complete", "failed", "interrupted", "stopped"] = "complete"
    message: str = ""


Event = Annotated[
    RunStart
    | SessionStart
    | UserTurn
    | Retrieval
    | AgentTurn
    | MemoryWrite
    | MemoryDelete
    | ForgetRequest
    | ProfileChange
    | Finding
    | Score
    | MonitorError
    | Error
    | SessionEnd
    | RunEnd,
    Field(discriminator="kind"),
]

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: dict[str, Any]) -> Event:
    """Validate one event dict into its typed model."""
    return _ADAPTER.validate_python(data)


def event_json_schema() -> dict[str, Any]:
    """JSON Schema for one line of events.jsonl."""
    return _ADAPTER.json_schema()
