"""Suite files: a matrix of scenarios x agent configs x seeds, with gates.

A suite file is validated like every spec (``file:line [field]: message``)::

    name: leak-gates
    alpha: 0.05                 # significance of relative gates; CIs are 1 - alpha
    seeds: 3                    # a count (from each scenario's own seed) or a list
    pass_k: [1, 3]              # k for leak-free^k
    scenarios: [../leakage.yaml]          # relative to the suite file
    baseline: isolated                    # default baseline of relative gates
    configs:
      - name: shared
        agent: ../agents/shared.yaml      # default: each scenario's own agent
      - name: isolated
        agent: ../agents/shared.yaml
        set:                              # named variant: override any field
          agent: {memory: {isolation: per_user}}
          scenario: {schedule: {sessions_per_user: 3}}
    gates:
      - surfaced_leaks == 0               # absolute: on every config
      - {metric: relational_harm_per_1k, op: "<", value: 5, configs: [shared]}
      - {metric: leak_surfaced_per_1k, margin: 10}   # relative to the baseline

Overrides are deep-merged into the loaded agent config and scenario and validated with
their own models, so a wrong override is reported at its line in the suite file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sandbox.spec import AgentConfig, Scenario, SpecError, SpecIssue
from sandbox.spec.loader import issues_from_validation, load_model, load_yaml_with_lines

__all__ = [
    "OPS",
    "ConfigSpec",
    "Gate",
    "LoadedSuite",
    "Suite",
    "deep_merge",
    "load_suite",
    "parse_gate",
]

OPS = ("==", "!=", "<=", ">=", "<", ">")
_GATE_RE = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(==|!=|<=|>=|<|>)\s*"
    r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
# scenario fields a variant may not change: they name other files
_FIXED_SCENARIO_FIELDS = ("cast", "agent")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Overrides(_Strict):
    """Fields to change in the agent config and in every scenario, deep-merged."""

    agent: dict[str, Any] = Field(default_factory=dict)
    scenario: dict[str, Any] = Field(default_factory=dict)

    @field_validator("scenario")
    @classmethod
    def _no_files(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in _FIXED_SCENARIO_FIELDS if k in v]
        if bad:
            raise ValueError(
                f"cannot override {', '.join(bad)} (they name files); write another scenario"
            )
        return v


class ConfigSpec(_Strict):
    """One agent config under test: a file, optionally changed by overrides (a variant)."""

    name: str = Field(pattern=_NAME, max_length=80)
    agent: str | None = Field(
        default=None,
        description="Agent file, relative to the suite (default: the scenario's).",
    )
    set: Overrides = Field(default_factory=Overrides)
    description: str = ""


class Gate(_Strict):
    """A condition on a metric, per config.

    Absolute when ``op`` and ``value`` are given: the config's mean over its runs must
    satisfy ``metric op value``. Relative otherwise: the config must not be worse than
    the baseline by more than ``margin`` with statistical support at the suite's alpha.
    """

    metric: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    op: Literal["==", "!=", "<=", ">=", "<", ">"] | None = None
    value: float | None = None
    stat: Literal["mean", "max", "min"] = Field(
        default="mean", description="Which summary of the runs an absolute gate checks."
    )
    baseline: str | None = Field(default=None, description="Relative gate: the config to beat.")
    margin: float | None = Field(
        default=None, ge=0, description="Relative gate: allowed worsening."
    )
    configs: list[str] = Field(default_factory=list, description="Configs checked (default all).")
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return parse_gate(data) if isinstance(data, str) else data

    @model_validator(mode="after")
    def _kind(self) -> Gate:
        absolute = self.op is not None or self.value is not None
        relative = self.baseline is not None or self.margin is not None
        if absolute and (self.op is None or self.value is None):
            raise ValueError("an absolute gate needs both op and value")
        if absolute and relative:
            raise ValueError("a gate is absolute (op, value) or relative (baseline, margin)")
        return self

    @property
    def relative(self) -> bool:
        """True for a gate against a baseline config."""
        return self.op is None

    def label(self, baseline: str | None = None) -> str:
        """Readable text of the gate, e.g. ``surfaced_leaks == 0``."""
        if self.name:
            return self.name
        if not self.relative:
            pre = "" if self.stat == "mean" else f"{self.stat} "
            return f"{pre}{self.metric} {self.op} {self.value:g}"  # type: ignore[str-format]
        return f"{self.metric} vs {self.baseline or baseline} (margin {self.margin or 0:g})"


def parse_gate(text: str) -> dict[str, Any]:
    """``"surfaced_leaks == 0"`` -> ``{"metric": ..., "op": ..., "value": ...}``.

    Raises:
        ValueError: when the text is not ``METRIC OP NUMBER``.
    """
    m = _GATE_RE.match(text)
    if not m:
        raise ValueError(
            f"gate {text[:60]!r} is not 'METRIC OP NUMBER' (OP one of {' '.join(OPS)})"
        )
    return {"metric": m[1], "op": m[2], "value": float(m[3])}


class Suite(_Strict):
    """A regression suite: scenarios x configs x seeds, and the gates they must hold."""

    name: str = Field(pattern=_NAME, max_length=80)
    description: str = ""
    scenarios: list[str] = Field(min_length=1, max_length=50)
    configs: list[ConfigSpec] = Field(min_length=1, max_length=50)
    seeds: int | list[int] = Field(default=3, description="A count or explicit seeds.")
    pass_k: list[int] = Field(default_factory=lambda: [1, 3])
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    power: float = Field(default=0.8, gt=0.5, lt=1, description="For 'seeds needed' notes.")
    baseline: str | None = None
    gates: list[Gate] = Field(default_factory=list)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: int | list[int]) -> int | list[int]:
        if isinstance(v, int):
            if not 1 <= v <= 1000:
                raise ValueError("a seed count must be 1..1000")
        elif not v or len(set(v)) != len(v) or len(v) > 1000:
            raise ValueError("seeds must be a non-empty list of distinct integers")
        return v

    @field_validator("pass_k")
    @classmethod
    def _ks(cls, v: list[int]) -> list[int]:
        if not v or any(k < 1 for k in v):
            raise ValueError("pass_k must list positive integers")
        return sorted(set(v))

    @model_validator(mode="after")
    def _names(self) -> Suite:
        names = [c.name for c in self.configs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate config names: {', '.join(dup)}")
        if self.baseline is not None and self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} is not a config ({', '.join(names)})")
        for g in self.gates:
            unknown = [c for c in g.configs if c not in names]
            if unknown:
                raise ValueError(f"gate {g.label()!r}: unknown configs {unknown}")
            if g.relative:
                base = g.baseline or self.baseline
                if base is None:
                    raise ValueError(f"gate {g.label()!r} is relative but no baseline is named")
                if base not in names:
                    raise ValueError(f"gate {g.label()!r}: baseline {base!r} is not a config")
        return self


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`base` with `over` merged in: mappings recursively, anything else replaced."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


@dataclass(frozen=True)
class LoadedSuite:
    """A validated suite with its file references resolved to absolute paths."""

    suite: Suite
    path: Path
    scenarios: tuple[Path, ...]
    agents: dict[str, Path | None]
    seeds: dict[str, tuple[int, ...]]  # scenario path -> seeds

    def scenario_id(self, scenario: Path) -> str:
        """A short folder-safe name for a scenario (its file stem, made unique)."""
        stems = [p.stem for p in self.scenarios]
        i = self.scenarios.index(scenario)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario.stem) or "scenario"
        return stem if stems.count(scenario.stem) == 1 else f"{stem}-{i + 1}"


def load_suite(path: Path | str) -> LoadedSuite:
    """Load and validate a suite file and everything it references.

    Each scenario is loaded with each config's agent, and each config's overrides are
    applied and validated, so a suite that loads will run.

    Raises:
        SpecError: naming file, line and field for every problem.
    """
    from sandbox.spec import load_bundle

    p = Path(path)
    suite = load_model(p, Suite)
    _, lines = load_yaml_with_lines(p)
    base = p.parent
    issues: list[SpecIssue] = []

    def at(*key: str | int) -> int | None:
        for cut in range(len(key), -1, -1):
            if key[:cut] in lines:
                return lines[key[:cut]]
        return None

    scenarios: list[Path] = []
    for i, ref in enumerate(suite.scenarios):
        sp = Path(ref) if Path(ref).is_absolute() else base / ref
        if not sp.is_file():
            issues.append(
                SpecIssue(
                    str(p), at("scenarios", i), f"scenarios.{i}", f"scenario file not found: {sp}"
                )
            )
            continue
        scenarios.append(sp.resolve())
    if len(set(scenarios)) != len(scenarios):
        issues.append(SpecIssue(str(p), at("scenarios"), "scenarios", "a scenario is listed twice"))
    agents: dict[str, Path | None] = {}
    for j, cfg in enumerate(suite.configs):
        if cfg.agent is None:
            agents[cfg.name] = None
            continue
        ap = Path(cfg.agent) if Path(cfg.agent).is_absolute() else base / cfg.agent
        if not ap.is_file():
            issues.append(
                SpecIssue(
                    str(p),
                    at("configs", j, "agent"),
                    f"configs.{j}.agent",
                    f"agent file not found: {ap}",
                )
            )
            continue
        agents[cfg.name] = ap.resolve()
    if issues:
        raise SpecError(issues)

    seeds: dict[str, tuple[int, ...]] = {}
    for sp in scenarios:
        for j, cfg in enumerate(suite.configs):
            try:
                bundle = load_bundle(sp, agent_override=agents[cfg.name])
            except SpecError as exc:
                issues.extend(exc.issues)
                continue
            if isinstance(suite.seeds, int):
                seeds[str(sp)] = tuple(bundle.scenario.seed + i for i in range(suite.seeds))
            else:
                seeds[str(sp)] = tuple(suite.seeds)
            issues.extend(_override_issues(p, lines, j, cfg, bundle.agent, bundle.scenario))
    if issues:
        # the same problem found for several scenarios is reported once
        raise SpecError(list(dict.fromkeys(issues)))
    return LoadedSuite(suite, p, tuple(scenarios), agents, seeds)


def _as_written(model: BaseModel) -> dict[str, Any]:
    """A spec's fields as its file set them: defaults stay defaults after a merge.

    Dumping every field would make each default look written, and validators that tell
    a written field from a default (a port given without its server) would then refuse.
    """
    return model.model_dump(mode="json", exclude_unset=True)


def apply_overrides(
    agent: AgentConfig, scenario: Scenario, overrides: Overrides
) -> tuple[AgentConfig, Scenario]:
    """The agent config and scenario with a config's overrides deep-merged and validated.

    Raises:
        pydantic.ValidationError: when an override is not valid for its model.
    """
    if overrides.agent:
        agent = AgentConfig.model_validate(deep_merge(_as_written(agent), overrides.agent))
    if overrides.scenario:
        scenario = Scenario.model_validate(deep_merge(_as_written(scenario), overrides.scenario))
    return agent, scenario


def _override_issues(
    p: Path,
    lines: dict[Any, int],
    j: int,
    cfg: ConfigSpec,
    agent: AgentConfig,
    scenario: Scenario,
) -> list[SpecIssue]:
    out: list[SpecIssue] = []
    for what, model, current, over in (
        ("agent", AgentConfig, agent, cfg.set.agent),
        ("scenario", Scenario, scenario, cfg.set.scenario),
    ):
        if not over:
            continue
        try:
            model.model_validate(deep_merge(_as_written(current), over))
        except ValidationError as exc:
            prefix = ("configs", j, "set", what)
            # locate each error inside the override mapping, as written in the suite file
            sub = {k: v for k, v in lines.items() if k[: len(prefix)] == prefix}
            rel = {k[len(prefix) :]: v for k, v in sub.items()}
            for issue in issues_from_validation(exc, str(p), over, rel):
                field = ".".join(["configs", str(j), "set", what, *filter(None, [issue.field])])
                out.append(SpecIssue(str(p), issue.line or lines.get(prefix), field, issue.message))
    return out
