"""Agent config spec: the system under test and its personalization switches."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["COMPONENTS", "AgentConfig", "BackendSpec", "MemoryPolicy"]

# Personalization components known to the reference agent; each can be switched off
# alone, which is what ablation relies on.
COMPONENTS = ("persona_prompt", "episodic_memory", "profile_summary", "preference_adaptation")
Component = Literal["persona_prompt", "episodic_memory", "profile_summary", "preference_adaptation"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class BackendSpec(_Strict):
    """Which generator produces replies, with its arguments (recorded in the run)."""

    name: str = "reference"
    args: dict[str, Any] = Field(default_factory=dict)


class MemoryPolicy(_Strict):
    """How the memory store behaves: isolation and forgetting are properties of the store.

    ``backend: chroma`` keeps memory in the run folder; ``chroma-http`` keeps it on a
    Chroma server at ``host``/``port``, in a database of the run's own.
    """

    backend: Literal["chroma", "chroma-http"] = "chroma"
    host: str | None = Field(default=None, min_length=1, description="chroma-http server host.")
    port: int = Field(default=8000, ge=1, le=65535, description="chroma-http server port.")
    isolation: Literal["per_user", "shared"] = "per_user"
    top_k: int = Field(default=3, ge=1, le=100)
    forget: Literal["hard", "soft"] = "hard"
    redact_pii: bool = False
    min_score: float = Field(
        default=0.25, ge=-1.0, le=1.0, description="Recalled hits below this are not used."
    )

    @model_validator(mode="after")
    def _server_address(self) -> MemoryPolicy:
        if self.backend == "chroma-http" and self.host is None:
            raise ValueError("backend 'chroma-http' needs a host (and a port, default 8000)")
        if self.backend == "chroma" and (self.host is not None or "port" in self.model_fields_set):
            raise ValueError("host and port are for backend 'chroma-http' only")
        return self


class AgentConfig(_Strict):
    """The agent under test: backend, personalization components, memory, mitigations."""

    name: str = Field(min_length=1)
    description: str = ""
    backend: BackendSpec = Field(default_factory=BackendSpec)
    components: list[Component] = Field(
        default_factory=lambda: list(COMPONENTS)  # type: ignore[arg-type]
    )
    memory: MemoryPolicy = Field(default_factory=MemoryPolicy)
    mitigations: list[str] = Field(default_factory=list)
    adaptation_rate: float = Field(default=0.15, ge=0.0, le=1.0)
