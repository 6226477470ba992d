"""JSON Schemas of the user-facing file kinds, checked in under `schemas/` for editors."""

from __future__ import annotations

from typing import Any

from sandbox.record.events import event_json_schema
from sandbox.spec.agent import AgentConfig
from sandbox.spec.persona import Persona
from sandbox.spec.scenario import Scenario
from sandbox.suite.spec import Suite

__all__ = ["render_schemas"]


def render_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema for every spec kind and for one line of events.jsonl."""
    return {
        "persona.schema.json": Persona.model_json_schema(),
        "agent.schema.json": AgentConfig.model_json_schema(),
        "scenario.schema.json": Scenario.model_json_schema(),
        "event.schema.json": event_json_schema(),
        "suite.schema.json": Suite.model_json_schema(),
    }
