"""Property fuzzing of the spec loader with Hypothesis, over all three spec kinds.

Documents are built from the real schema's keys (top level and nested) with values drawn
from valid ones and hostile ones: wrong types, huge integers, NaN and infinities, deep
nesting, unicode controls and bidi overrides, lone surrogates, anchors and aliases
(recursive and undefined too), tags, empty values and odd dates, plus hostile keys and
whole hostile documents. The property: `validate_file` either accepts the file or raises
`SpecError` whose every issue names a file and a line and prints inert, and nothing else.

Deterministic (``derandomize=True``, no example database) and sized to run in seconds.
A per-example alarm (10 s) fails only on a hang; durations are kept for reporting
(``pytest -s`` prints the slowest), never asserted on.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.spec import SpecError, validate_file
from sandbox.spec.loader import MAX_DEPTH

HANG_SECONDS = 10
EXAMPLES = 150  # per spec kind

PERSONA = """\
id: ana
display_name: Ana
secrets:
  - {id: pin, topic: pin, text: "my pin is QZ4-8KXW-7RM2T", canary: QZ4-8KXW-7RM2T}
"""
AGENT = "name: a\nbackend: {name: reference}\n"

# The schema's keys, with one valid value each, and the keys of nested objects.
Valid = Any
SCHEMA: dict[str, dict[str, tuple[Valid, dict[str, Any] | None]]] = {
    "persona": {
        "id": ("hyp", None),
        "display_name": ("Hyp", None),
        "profile": ({"age": 40, "job": "nurse", "wish_rate": 0.2}, None),
        "vulnerabilities": (
            [{"kind": "gambling", "severity": 0.5}],
            {"kind": "x", "severity": 0.5, "statement": "s"},
        ),
        "secrets": (
            [{"id": "s", "topic": "t", "text": "code KX9M-4WTB-82QZ", "canary": "KX9M-4WTB-82QZ"}],
            {
                "id": "s",
                "topic": "t",
                "text": "KX9M-4WTB-82QZ",
                "canary": "KX9M-4WTB-82QZ",
                "sensitivity": "high",
            },
        ),
        "facts": ([{"text": "adopted", "sensitivity": "high"}], {"text": "x", "public": True}),
        "preferences": ({"tone": "casual"}, None),
        "wishes": (["go out"], None),
        "evolution": (
            [{"at_session": 1, "action": "share_secret", "secret": "s"}],
            {
                "at_day": 1.0,
                "at_session": 1,
                "note": "n",
                "action": "set_attribute",
                "key": "job",
                "value": "x",
                "vulnerability": {"kind": "x"},
                "kind": "x",
                "secret": "s",
            },
        ),
        "policy": ({"name": "scripted"}, {"name": "scripted", "args": {}}),
        "source": ("me", None),
    },
    "agent": {
        "name": ("hyp", None),
        "description": ("d", None),
        "backend": ({"name": "reference"}, {"name": "reference", "args": {}}),
        "components": (["persona_prompt", "episodic_memory"], None),
        "memory": (
            {"isolation": "per_user", "top_k": 3},
            {
                "backend": "chroma",
                "host": "h",
                "port": 8000,
                "isolation": "shared",
                "top_k": 3,
                "forget": "soft",
                "redact_pii": True,
                "min_score": 0.25,
            },
        ),
        "mitigations": ([], None),
        "adaptation_rate": (0.5, None),
    },
    "scenario": {
        "name": ("hyp", None),
        "description": ("d", None),
        "seed": (1, None),
        "start_date": ("2026-01-05", None),
        "cast": ([{"persona": "../personas/ana.yaml"}], {"persona": "x", "copies": 2}),
        "schedule": (
            {"sessions_per_user": 2, "turns_per_session": 2},
            {
                "sessions_per_user": 2,
                "turns_per_session": 2,
                "start_jitter_days": 0.5,
                "minutes_per_turn": 2.0,
                "gap": {"dist": "uniform", "low": 0.5, "high": 2},
            },
        ),
        "scripts": (
            [{"topics": ["jobs"]}],
            {
                "sessions": [0],
                "personas": ["ana"],
                "topics": ["t"],
                "lines": ["hi {name}"],
                "probes": ["p"],
            },
        ),
        "agent": ("agents/a.yaml", None),
        "monitors": ([{"name": "cross_user_leakage"}], {"name": "retention", "args": {}}),
        "control": (False, None),
        "on_agent_error": ("stop", None),
    },
}
REQUIRED = {"persona": ("id", "display_name"), "agent": (), "scenario": ("cast", "agent")}
FOLDER = {"persona": "personas", "agent": "scenarios/agents", "scenario": "scenarios"}


class Raw(str):
    """YAML text placed as it is (a hostile fragment), not serialised."""


def render(value: Any) -> str:
    """Flow-style YAML for a value; Raw fragments go in verbatim."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render_key(k)}: {render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    return json.dumps(value)


def render_key(key: Any) -> str:
    return str(key) if isinstance(key, Raw) else json.dumps(key)


# --- hostile values --------------------------------------------------------------------

ODD_TEXT = st.characters(
    codec=None,
    categories=("L", "N", "P", "S", "Zs", "Cc", "Cf", "Cs", "Co", "Zl", "Zp"),
)
SPECIALS = [
    "", "~", "null", "yes", "no", "on", "off", "true", "0x1F", "0o17", "1_000", "+.5",
    "1:20:30", "1e309", "-1e309", ".inf", "-.inf", ".nan", ".NaN", "-0", "0b101",
    "2026-02-30", "2026-13-01", "0000-01-01", "9999-12-31", "10000-01-01", "2026-1-5",
    "2026-01-05T25:61:61Z", "2026-01-05 10:00:00 +25:00", "!!timestamp 2026-02-30",
    "!!timestamp x", "!foo x", "!foo", "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system", "!!binary aGk=", "!!set {a, b}", "!!omap [{a: 1}]",
    "!!str 5", "!!int x", "!!float x", "!!bool maybe", "!!null x", "!<tag:x> y",
    "[&w go out, *w]", "{a: &v 1, b: *v}", "&r [*r]", "&m {k: *m}", "*undefined",
    '"\\e]52;c;aGk=\\a"', '"\\e[2J\\x9b31m"', '"\\u202e\\u2066evil\\u2069"', '"\\ud800"',
    '"\\0"', "'[bold red]x[/]'", "|\n  block", ">\n  folded", "[", "{", "]", "}", ",",
    "- a", "? a", "a: b: c", "@x", "`x", "%x", "&", "*", "!", "'unterminated", '"unterminated',
]  # fmt: skip


def _float(x: float) -> str:
    if x != x:
        return ".nan"
    if x in (float("inf"), float("-inf")):
        return ".inf" if x > 0 else "-.inf"
    return repr(x)


def nested(n: int, shape: str) -> str:
    return "[" * n + "]" * n if shape == "list" else "{a: " * n + "1" + "}" * n


SCALARS = st.one_of(
    st.sampled_from(SPECIALS),
    st.integers(min_value=-(10**80), max_value=10**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(_float),
    st.text(ODD_TEXT, max_size=30).map(json.dumps),  # escapes, incl. lone surrogates
    st.text(ODD_TEXT, max_size=30).map(lambda s: json.dumps(s, ensure_ascii=False)),  # raw
    st.dates().map(lambda d: d.isoformat()),
    st.builds(nested, st.integers(1, MAX_DEPTH + 40), st.sampled_from(["list", "map"])),
).map(Raw)
HOSTILE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["a", "kind", "name", "id", "1", "<<"]), inner, max_size=3),
    ),
    max_leaves=8,
)
HOSTILE_KEYS = st.one_of(
    st.text(ODD_TEXT, min_size=0, max_size=12).map(json.dumps),
    st.sampled_from(["<<", "1", "yes", "null", "~", '"id"', "? [a, b]", "!foo k", "&k id", "*k"]),
).map(Raw)
WHOLE = st.sampled_from(
    [
        "", "# only a comment\n", "---\n---\n", "[1, 2]\n", "just text\n", "~\n", "&a [*a]\n",
        "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\n"
        "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
        "\ufeffname: bom\n", "%YAML 1.1\n---\nname: x\n", "%TAG ! tag:evil,2026:\n---\n!x y\n",
        "name:\n\t- tab\n", "a: 1\na: 2\n", "? [a, b]\n: 1\n", "<<: {a: 1}\n",
    ]
)  # fmt: skip


def hostile_for(valid: Any, sub: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """A hostile value for a key, or (for nested objects) a partly hostile object."""
    if sub is None:
        return HOSTILE
    inner = st.fixed_dictionaries(
        {}, optional={k: st.one_of(st.just(v), HOSTILE) for k, v in sub.items()}
    )
    return st.one_of(HOSTILE, st.lists(inner, max_size=3) if isinstance(valid, list) else inner)


@st.composite
def documents(draw: st.DrawFn, kind: str) -> str:
    """A document of `kind`: valid values for a subset of its keys, a few made hostile."""
    if draw(st.integers(0, 19)) == 0:
        return draw(WHOLE)
    schema = SCHEMA[kind]
    optional = [k for k in schema if k not in REQUIRED[kind]]
    keys = [*REQUIRED[kind], *draw(st.lists(st.sampled_from(optional), unique=True))]
    doc: dict[Any, Any] = {k: schema[k][0] for k in keys}
    for k in draw(st.lists(st.sampled_from(sorted(schema)), max_size=3, unique=True)):
        doc[k] = draw(hostile_for(*schema[k]))
    for key, value in draw(st.lists(st.tuples(HOSTILE_KEYS, HOSTILE), max_size=2)):
        doc[key] = value
    lines = [f"{render_key(k)}: {render(v)}" for k, v in doc.items()]
    if lines and draw(st.integers(0, 9)) == 0:
        lines.append(lines[0])  # a duplicate key
    return "\n".join(lines) + "\n"


# --- the property ---------------------------------------------------------------------


class Hang(Exception):
    pass


@contextmanager
def hang_guard() -> Iterator[None]:
    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {HANG_SECONDS} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
DURATIONS: dict[str, list[float]] = {}
OUTCOMES: dict[str, Counter[str]] = {}


@pytest.fixture(scope="module")
def spec_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("hyp-specs")
    (root / "personas").mkdir()
    (root / "scenarios" / "agents").mkdir(parents=True)
    (root / "personas" / "ana.yaml").write_text(PERSONA)
    (root / "scenarios" / "agents" / "a.yaml").write_text(AGENT)
    for kind in SCHEMA:  # the valid base documents validate, so accepting is reachable
        base = {k: v for k, (v, _) in SCHEMA[kind].items()}
        p = root / FOLDER[kind] / "base.yaml"
        p.write_text("\n".join(f"{json.dumps(k)}: {render(v)}" for k, v in base.items()) + "\n")
        assert validate_file(p) == kind
    yield root
    for kind, secs in sorted(DURATIONS.items()):
        seen = dict(OUTCOMES.get(kind, {}))
        print(f"\n{kind}: {len(secs)} documents {seen}, slowest {max(secs):.3f} s")


def check(path: Path, text: str, kind: str) -> None:
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    start = time.perf_counter()
    try:
        with hang_guard():
            try:
                got = validate_file(path)
            except SpecError as err:
                assert err.issues, "a SpecError with no issue"
                for issue in err.issues:
                    assert issue.file, issue
                    assert isinstance(issue.line, int) and issue.line >= 1, str(issue)
                    shown = str(issue)
                    assert RAW_CONTROL.search(shown) is None, repr(shown)
                OUTCOMES.setdefault(kind, Counter())["refused"] += 1
                return
            assert got in SCHEMA, got
            OUTCOMES.setdefault(kind, Counter())["accepted"] += 1
    except Hang as exc:
        pytest.fail(f"{exc}: {text[:300]!r}")
    finally:
        DURATIONS.setdefault(kind, []).append(time.perf_counter() - start)


FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,  # speed is reported, not asserted
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(text=documents("persona"))
def test_persona_files_are_accepted_or_refused_with_a_line(spec_tree: Path, text: str) -> None:
    check(spec_tree / "personas" / "hyp.yaml", text, "persona")


@FUZZ
@given(text=documents("agent"))
def test_agent_files_are_accepted_or_refused_with_a_line(spec_tree: Path, text: str) -> None:
    check(spec_tree / "scenarios" / "agents" / "hyp.yaml", text, "agent")


@FUZZ
@given(text=documents("scenario"))
def test_scenario_files_are_accepted_or_refused_with_a_line(spec_tree: Path, text: str) -> None:
    check(spec_tree / "scenarios" / "hyp.yaml", text, "scenario")
