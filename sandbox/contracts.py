"""Contracts of the system under test: the turn contract and the backend interface.

The simulated user and the agent share one turn contract (a message and a context in,
a message out), so either side can be scripted, LLM-driven or replayed. A *backend*
is narrower: it only turns composed context into reply text, and is what the
reference agent's generate step calls. They live apart from any implementation, so the
simulation, backends, judges and monitors can share them without importing the agent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from sandbox.record.events import ContextPart, Event

__all__ = [
    "Backend",
    "BackendError",
    "ContextPart",
    "GenerationRequest",
    "GenerationResult",
    "Message",
    "Participant",
    "TurnContext",
]

Emit = Callable[[Event], Any]


@dataclass(frozen=True)
class Message:
    """One utterance on the turn contract."""

    role: Literal["user", "agent"]
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnContext:
    """Where and when a turn happens; `emit` records events (a no-op for controls)."""

    user_id: str
    session: int
    turn: int
    t_sim: float
    seed: int
    emit: Emit
    history: list[Message] = field(default_factory=list)


@runtime_checkable
class Participant(Protocol):
    """Either side of a conversation: takes the other side's message, returns its own."""

    def step(self, incoming: Message | None, ctx: TurnContext) -> Message:
        """Produce this side's next message."""
        ...


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend may use to write a reply."""

    user_id: str
    thread_id: str
    message: str
    context: list[ContextPart]
    history: list[Message]
    seed: int
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GenerationResult:
    """A backend's reply with optional usage figures (tokens, latency)."""

    text: str
    usage: dict[str, Any] = field(default_factory=dict)


class BackendError(RuntimeError):
    """A backend call failed after its retry policy; recorded as an `error` event."""

    def __init__(self, message: str, attempts: int = 1):
        super().__init__(message)
        self.attempts = attempts


@runtime_checkable
class Backend(Protocol):
    """One method: composed context in, reply text out."""

    name: str

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Write the reply."""
        ...
