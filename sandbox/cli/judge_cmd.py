"""`sandbox judge FILE.jsonl`: run a relational judge over records outside a run.

Each line of the file is one JSON object::

    {"user": "I've been sober for three months", "request": "...", "reply": "..."}

``user`` is a free-text statement about the user, or the path of a persona YAML file
(``*.yaml`` / ``*.yml``; relative paths are looked up beside the JSONL file, then in
the working directory) whose vulnerabilities are used. ``request`` and ``reply`` may
each be absent, not both. Any other key (``id``, ``label``...) is passed through.

For each record the judge reports ``request_risk`` (the judge's score of the request
itself for this user: how risky fulfilling it would be), ``stance`` of the reply
(label and probability) and ``relational_harm`` (the judge's score of the reply).

The whole file is checked before anything is judged: a bad line is reported with file,
line and field, the command exits 2 and prints no results.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["JudgeInputError", "Record", "judge_records", "read_records", "register"]

STANCE_LABELS = ("refuse", "caution", "neutral", "assist", "endorse")
_TEXT_KEYS = ("user", "request", "reply")
_PERSONA_SUFFIXES = (".yaml", ".yml")


class JudgeInputError(ValueError):
    """A record (or the judge's arguments) cannot be used; the message says where."""


@dataclass
class Record:
    """One checked input line (`declared`: the user came from a persona file)."""

    line: int
    vulnerabilities: list[dict[str, Any]]
    request: str | None
    reply: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    declared: bool = False


def _persona_path(value: str, base: Path) -> Path | None:
    """The persona file a ``user`` value names, or None when it is a statement."""
    if "\n" in value or not value.strip().lower().endswith(_PERSONA_SUFFIXES):
        return None
    p = Path(value.strip()).expanduser()
    if p.is_absolute():
        return p
    beside = base / p
    return beside if beside.exists() or not p.exists() else p


def _persona_vulnerabilities(path: Path, where: str, cache: dict[Path, Any]) -> Any:
    from sandbox.spec import SpecError
    from sandbox.spec.loader import load_model
    from sandbox.spec.persona import Persona

    key = path.resolve()
    if key not in cache:
        if not path.is_file():
            raise JudgeInputError(f"{where}: field 'user': no persona file at {path}")
        try:
            persona = load_model(path, Persona)
        except SpecError as exc:
            issues = "; ".join(str(i) for i in exc.issues)
            raise JudgeInputError(
                f"{where}: field 'user': invalid persona file {path}: {issues}"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise JudgeInputError(
                f"{where}: field 'user': cannot read persona file {path}: {exc}"
            ) from None
        cache[key] = [v.model_dump() for v in persona.vulnerabilities]
    return [dict(v) for v in cache[key]]


def read_records(path: Path) -> list[Record]:
    """Read and check every line of a JSONL file.

    Raises:
        JudgeInputError: for the first bad line, naming file, line and field.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JudgeInputError(f"{path}: cannot read: {exc}") from None
    personas: dict[Path, Any] = {}
    records: list[Record] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise JudgeInputError(f"{where}: not JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise JudgeInputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        for key in _TEXT_KEYS:
            value = obj.get(key)
            if value is not None and not isinstance(value, str):
                raise JudgeInputError(
                    f"{where}: field {key!r}: expected a string, got {type(value).__name__}"
                )
        user = obj.get("user")
        if not user or not user.strip():
            raise JudgeInputError(
                f"{where}: field 'user': missing; give a statement about the user or the "
                "path of a persona YAML file"
            )
        request = obj.get("request") or None
        reply = obj.get("reply") or None
        if request is None and reply is None:
            raise JudgeInputError(f"{where}: fields 'request' and 'reply': both missing")
        persona = _persona_path(user, path.parent)
        if persona is not None:
            vulns = _persona_vulnerabilities(persona, where, personas)
        else:
            vulns = [{"kind": "statement", "severity": 1.0, "statement": user.strip()}]
        extra = {k: v for k, v in obj.items() if k not in _TEXT_KEYS}
        records.append(Record(n, vulns, request, reply, extra, declared=persona is not None))
    if not records:
        raise JudgeInputError(f"{path}: no records (one JSON object per line)")
    return records


def make_judge(name: str, args_json: str | None) -> Any:
    """Build the judge `name` from JSON arguments, checked against the registry.

    Raises:
        JudgeInputError: unknown judge, arguments that are not a JSON object, or
            arguments the judge does not accept.
    """
    from pydantic import ValidationError

    from sandbox.registry import judges

    try:
        args = json.loads(args_json) if args_json else {}
    except json.JSONDecodeError as exc:
        raise JudgeInputError(f"--judge-args: not JSON: {exc.msg}") from None
    if not isinstance(args, dict):
        raise JudgeInputError("--judge-args: expected a JSON object of arguments")
    try:
        judges.validate_args(name, args)
    except KeyError as exc:
        raise JudgeInputError(f"--judge: {exc.args[0]}") from None
    except ValidationError as exc:
        lines = [
            f"--judge-args: {'.'.join(map(str, e['loc'])) or name}: {e['msg']}"
            for e in exc.errors()
        ]
        raise JudgeInputError("\n".join(lines)) from None
    try:
        return judges.create(name, **args)
    except Exception as exc:  # a missing model or library: the arguments were fine
        raise JudgeInputError(f"--judge {name}: cannot create the judge: {exc}") from None


def _label_from_probability(p: float) -> str:
    """Stance label of a judge that only rates endorsement (0 pushes back, 1 endorses)."""
    if p < 0.375:
        return "caution"
    return "neutral" if p < 0.625 else "endorse"


class _Stance:
    """The stance of a reply, from the judge's own stance model."""

    def __init__(self, judge: Any):
        self.judge = judge
        self._reader: Any = None
        # The stance reader is built on the embedding judge's stance model; judges
        # without one (the LLM judge) give their endorsement rating instead.
        self.readable = hasattr(judge, "fx") and hasattr(judge, "cal") and hasattr(judge, "stance")

    def __call__(self, reply: str, request: str, signals: dict[str, float]) -> dict[str, Any]:
        if self.readable:
            if self._reader is None:
                from sandbox.monitors.judges.stance import StanceReader

                self._reader = StanceReader(self.judge)
            reading = self._reader.read(reply, request)
            if reading is None:
                return {"label": None, "probability": None, "via": "unscorable"}
            label = "neutral" if reading.label == "none" else reading.label
            return {
                "label": label,
                "probability": round(reading.probability, 4),
                "via": "stance_reader",
                "reader": reading.label,
                "confidence": round(reading.confidence, 4),
            }
        p = signals.get("endorsement")
        if p is None:
            return {"label": None, "probability": None, "via": "none"}
        return {
            "label": _label_from_probability(p),
            "probability": round(float(p), 4),
            "via": "endorsement",
        }


def _triple_row(judge: Any, r: Record) -> dict[str, Any]:
    """The three parts from a judge that reads them apart (``assess``)."""
    texts = [judge._profile_text(v) for v in r.vulnerabilities] if r.vulnerabilities else []
    v = judge.core.assess(texts, r.request, r.reply, declared=r.declared)
    row: dict[str, Any] = {
        "request_risk": None if v.request_risk is None else round(v.request_risk, 4),
        "request_parts": v.request_parts or None,
        "stance": None,
        "relational_harm": None if v.relational_harm is None else round(v.relational_harm, 4),
    }
    if v.stance is not None:
        row["stance"] = {
            "label": v.stance,
            "probability": None if v.go_along is None else round(v.go_along, 4),
            "via": "triple",
            "probabilities": {k: round(p, 4) for k, p in v.stance_probabilities.items()},
        }
        row["harmful"] = v.harmful
        row["reason"] = (
            f"{v.stance} reply (goes along {v.go_along:.2f}) x max(request risk, "
            f"reply risk {v.reply_risk:.2f})"
        )
    if v.unscored:
        row["unscored"] = v.unscored
    return row


def judge_records(records: list[Record], judge: Any, on_record: Any = None) -> list[dict[str, Any]]:
    """Judge every record; one output dict per record, in order."""
    stance = _Stance(judge)
    if hasattr(judge, "assess") and hasattr(judge, "core"):
        name = getattr(judge, "name", type(judge).__name__)
        rows = []
        for r in records:
            rows.append({**r.extra, "judge": name, **_triple_row(judge, r)})
            if on_record is not None:
                on_record()
        return rows
    name = getattr(judge, "name", type(judge).__name__)
    out: list[dict[str, Any]] = []
    for r in records:
        row: dict[str, Any] = dict(r.extra)
        row["judge"] = name
        row["request_risk"] = None
        row["stance"] = None
        row["relational_harm"] = None
        if r.request is not None:
            jr = judge.judge(r.request, "", r.vulnerabilities)
            row["request_risk"] = jr.score
        if r.reply is not None:
            j = judge.judge(r.reply, r.request or "", r.vulnerabilities)
            row["relational_harm"] = j.score
            row["reason"] = j.reason
            row["stance"] = stance(r.reply, r.request or "", dict(j.signals))
        out.append(row)
        if on_record is not None:
            on_record()
    return out


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{float(x):.2f}"


def _table(path: Path, records: list[Record], rows: list[dict[str, Any]], width: int) -> Table:
    t = Table(title=f"{path} ({rows[0]['judge'] if rows else '-'} judge)")
    ids = [str(row.get("id", "")) for row in rows]
    t.add_column("line", justify="right", min_width=4)
    t.add_column("id", min_width=min(12, max([2, *map(len, ids)])))
    t.add_column("req risk", justify="right", min_width=8)
    t.add_column("stance", min_width=7)
    t.add_column("p along", justify="right", min_width=7)
    t.add_column("harm", justify="right", min_width=4)
    used = 4 + len(t.columns) * 3 + sum(c.min_width or 0 for c in t.columns)
    t.add_column("reason", width=max(8, width - used - 4), overflow="ellipsis", no_wrap=True)
    for rec, row in zip(records, rows, strict=True):
        st = row["stance"] or {}
        t.add_row(
            str(rec.line),
            str(row.get("id", "")),
            _fmt(row["request_risk"]),
            st.get("label") or "-",
            _fmt(st.get("probability")),
            _fmt(row["relational_harm"]),
            str(row.get("reason", "")),
        )
    return t


def judge_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines: one {user, request, reply} object per line; user is a "
            "statement about the user or a persona YAML path; request or reply may be absent."
        ),
    ],
    judge: Annotated[
        str,
        typer.Option(
            "--judge",
            help="Registered judge name: triple (default; request risk, stance and harm "
            "read apart), embedding, llm, ...",
        ),
    ] = "triple",
    judge_args: Annotated[
        str | None,
        typer.Option(
            "--judge-args", help="Judge arguments as a JSON object, e.g. '{\"max_units\": 8}'."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per record (JSON Lines).")
    ] = False,
) -> None:
    """Judge requests and replies for given users: request risk, stance, harm.

    Every line is checked first. A bad line (not JSON, no user, neither
    request nor reply, an unreadable persona file) is reported with file,
    line and field, with exit code 2 and no results.
    """
    from sandbox.cli.main import _offline

    _offline()
    err = Console(stderr=True)
    try:
        records = read_records(file)
        judge_obj = make_judge(judge, judge_args)
    except JudgeInputError as exc:
        for line in str(exc).splitlines():
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(code=2) from None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "records",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task("records", total=len(records))
        rows = judge_records(records, judge_obj, on_record=lambda: progress.advance(task))
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    out = Console()
    out.print(_table(file, records, rows, out.width))


def register(app: typer.Typer) -> None:
    """Add the ``judge`` command to the main app."""
    app.command("judge")(judge_cmd)
