"""Deterministic mutation fuzzing of the shipped spec files (personas, scenarios, agents).

Run as a program in its own process (the test does, under a subprocess timeout)::

    python tests/hostile/fuzz_specs.py --cases 300 --seed 0 --out results.jsonl

It copies ``personas/`` and ``scenarios/`` into a temporary folder, so scenario file
references still resolve, then for each case mutates one copied file, validates it the
way ``sandbox validate`` does, restores it, and writes one JSON line per case:

- ``exit2_line``: a :class:`SpecError` whose every issue names the file and a line;
- ``exit2_noline``: a :class:`SpecError` with an issue missing its file or line;
- ``accepted``: the file validated;
- ``traceback``: any other exception (what the CLI would print as a traceback);
- ``hang``: the case ran past the per-case alarm.

Per-case wall time is recorded (for reports), never asserted on.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PWNED = "sandbox-fuzz-pwned"

_KEY_LINE = re.compile(r"^(\s*(?:- )?)([A-Za-z_][\w-]*):(\s*)(.*)$")

ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)

# Values that stress the YAML layer or the models once placed where a value goes.
HOSTILE_VALUES = [
    "",
    "!foo bar",
    "!foo",
    "!!set {a, b}",
    "!!omap [{a: 1}]",
    "!!binary aGVsbG8=",
    "!!timestamp 2026-02-30",
    "2026-02-30",
    "!!python/object/apply:os.system ['touch /tmp/" + PWNED + "']",
    "!!python/name:os.system",
    "&r [*r]",
    "&m {k: *m}",
    "9" * 5000,
    "-" + "9" * 400,
    "1e308",
    "1e309",
    ".inf",
    "-.inf",
    ".nan",
    "-1",
    "0",
    "2000000000",
    "[" * 3000 + "]" * 3000,
    "{a: " * 500 + "1" + "}" * 500,
    "null",
    "~",
    "true",
    "[]",
    "{}",
    "[1, 2, 3]",
    "{x: 1}",
    '"{"',
    '"}{"',
    '"{name"',
    '"{0}"',
    '"{__class__}"',
    '"\\x1b]52;c;aGk=\\x07"',
    '"\\u202e evil"',
    "'" + "x" * 100_000 + "'",
    "0x1F",
    "0o17",
    "1_000",
    "+12",
    "*undefined_alias",
    "|\n  block\n  text",
]

HOSTILE_DOCS = [
    "",
    "---\n",
    "---\nname: a\n---\nname: b\n",
    "? [a, b]\n: 1\n",
    "? {a: 1}\n: 1\n",
    "base: &b {name: x}\n<<: *b\n",
    "<<: {name: x}\n",
    "!!set {a, b}\n",
    "a: &a [*a]\n",
    ALIAS_BOMB,
    "[" * 100_000,
    "- " * 3000 + "x\n",
    "x: " + "9" * 5000 + "\n",
    "!!python/object/apply:os.system ['touch /tmp/" + PWNED + "']\n",
    "\t\tname: tab\n",
    "%YAML 1.1\n%TAG ! tag:evil,2000:\n--- !x\nname: a\n",
    "\ufeffname: bom\n",
    "name: \x00nul\n",
    "[1, 2]\n",
    "just a string\n",
    "42\n",
    "name: a\nname: b\n",
    "1: a\ntrue: b\nnull: c\n",
]


def _key_lines(lines: list[str]) -> list[int]:
    return [i for i, ln in enumerate(lines) if _KEY_LINE.match(ln)]


def _set_value(text: str, rng: random.Random, value: str) -> str:
    lines = text.split("\n")
    keys = _key_lines(lines)
    if not keys:
        return text + "\n" + value
    i = rng.choice(keys)
    m = _KEY_LINE.match(lines[i])
    assert m is not None
    indent, key = m.group(1), m.group(2)
    if "\n" in value:
        pad = " " * (len(indent) + 2)
        value = value.replace("\n", "\n" + pad)
    lines[i] = f"{indent}{key}: {value}".rstrip() if value else f"{indent}{key}:"
    return "\n".join(lines)


def m_hostile_value(text: str, rng: random.Random) -> str:
    return _set_value(text, rng, rng.choice(HOSTILE_VALUES))


def m_hostile_doc(text: str, rng: random.Random) -> str:
    doc = rng.choice(HOSTILE_DOCS)
    where = rng.choice(["replace", "prepend", "append"])
    if where == "replace":
        return doc
    return doc + text if where == "prepend" else text.rstrip("\n") + "\n" + doc


def m_empty_value(text: str, rng: random.Random) -> str:
    return _set_value(text, rng, "")


def m_tag(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    keys = _key_lines(lines)
    if not keys:
        return text
    i = rng.choice(keys)
    m = _KEY_LINE.match(lines[i])
    assert m is not None
    tag = rng.choice(["!foo", "!!str", "!!int", "!!float", "!!map", "!!seq", "!!bool", "!bar"])
    lines[i] = f"{m.group(1)}{m.group(2)}: {tag} {m.group(4)}"
    return "\n".join(lines)


def m_number(text: str, rng: random.Random) -> str:
    nums = list(re.finditer(r"(?<![\w.-])\d+(\.\d+)?(?![\w.-])", text))
    if not nums:
        return text
    m = rng.choice(nums)
    new = rng.choice(
        ["1e308", ".inf", "-.inf", ".nan", "-1", "0", "2000000000", "9" * 5000, "1e-320"]
    )
    return text[: m.start()] + new + text[m.end() :]


def m_line_op(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    op = rng.choice(["delete", "duplicate", "swap", "dedent", "indent"])
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "dedent":
        lines[i] = lines[i].lstrip()
    else:
        lines[i] = "   " + lines[i]
    return "\n".join(lines)


def m_bytes(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        if not chars:
            break
        k = rng.randrange(len(chars))
        op = rng.choice(["flip", "delete", "insert"])
        junk = rng.choice(":-[]{}&*!|>'\"#%@`?,\t\x1b\x00\n ")
        if op == "flip":
            chars[k] = junk
        elif op == "delete":
            del chars[k]
        else:
            chars.insert(k, junk)
    return "".join(chars)


def m_truncate(text: str, rng: random.Random) -> str:
    return text[: rng.randrange(len(text) + 1)]


def m_semantic(text: str, rng: random.Random) -> str:
    """Values that validate by type but used to crash or stall `run`."""
    subs = [
        (r'start_date: "[^"]*"', 'start_date: "2026-02-30"'),
        (r"start_date: [^\n]*", "start_date: 2026-13-01"),
        (r"low: [^,}\n]*", "low: 1e308"),
        (r"high: [^,}\n]*", "high: .inf"),
        (r"sessions_per_user: \d+", "sessions_per_user: 2000000000"),
        (r"turns_per_session: \d+", "turns_per_session: 2000000000"),
        (r"wish_rate: [^\n]*", "wish_rate: lots"),
        (r"canary: [^\n]*", "canary: " + "Zq7" * 3000),
    ]
    pat, new = rng.choice(subs)
    out, n = re.subn(pat, new, text, count=1)
    if n:
        return out
    extra = rng.choice(
        [
            'scripts: [{topics: ["{"]}]',
            'scripts: [{lines: ["{nope}"]}]',
            "schedule: {gap: {dist: fixed, days: 1e308}}",
            "schedule: {minutes_per_turn: 1e308}",
            "schedule: {start_jitter_days: .inf}",
        ]
    )
    return text.rstrip("\n") + "\n" + extra + "\n"


MUTATORS: dict[str, Callable[[str, random.Random], str]] = {
    "hostile_value": m_hostile_value,
    "hostile_doc": m_hostile_doc,
    "empty_value": m_empty_value,
    "tag": m_tag,
    "number": m_number,
    "line_op": m_line_op,
    "bytes": m_bytes,
    "truncate": m_truncate,
    "semantic": m_semantic,
}


def spec_files(tree: Path) -> list[Path]:
    """The shipped persona, scenario and agent files under a copied tree, in a stable order.

    Personas anywhere under ``personas/``; scenarios directly in ``scenarios/``; agents in
    ``scenarios/agents/`` (other folders there hold other kinds of file).
    """
    return (
        sorted((tree / "personas").rglob("*.yaml"))
        + sorted((tree / "scenarios").glob("*.yaml"))
        + sorted((tree / "scenarios" / "agents").glob("*.yaml"))
    )


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang()


def classify(path: Path, validate: Callable[[Path], str]) -> tuple[str, str]:
    from sandbox.spec import SpecError

    try:
        validate(path)
    except SpecError as exc:
        bad = [str(i) for i in exc.issues if not i.file or not i.line]
        if not exc.issues:
            return "exit2_noline", "SpecError with no issues"
        if bad:
            return "exit2_noline", bad[0][:300]
        return "exit2_line", str(exc.issues[0])[:300]
    except Hang:
        return "hang", ""
    except BaseException as exc:
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        return "traceback", "".join(tb[-3:])[-800:]
    return "accepted", ""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--alarm", type=float, default=10.0, help="per-case hang guard, seconds")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--mem-gb", type=float, default=4.0)
    ap.add_argument("--root", type=Path, default=ROOT, help="tree whose personas/scenarios to use")
    args = ap.parse_args()

    limit = int(args.mem_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    from sandbox.spec import SpecError, validate_file

    signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp)
        shutil.copytree(args.root / "personas", tree / "personas")
        shutil.copytree(args.root / "scenarios", tree / "scenarios")
        names = sorted(MUTATORS)
        # warm-up: plugin imports (backends, monitors) happen once, outside any case;
        # a shipped file that does not validate unchanged is left out (and named)
        files = []
        for f in spec_files(tree):
            try:
                validate_file(f)
            except SpecError as exc:
                print(f"left out (invalid unchanged): {exc}", file=sys.stderr)
                continue
            files.append(f)
        with open(args.out, "w", encoding="utf-8") as out:
            for case in range(args.cases):
                rng = random.Random(f"{args.seed}:{case}")
                target = files[rng.randrange(len(files))]
                op = names[case % len(names)]
                original = target.read_bytes()
                mutated = MUTATORS[op](original.decode("utf-8"), rng)
                target.write_text(mutated, encoding="utf-8", errors="surrogatepass")
                t0 = time.perf_counter()
                signal.setitimer(signal.ITIMER_REAL, args.alarm)
                try:
                    outcome, detail = classify(target, validate_file)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                secs = time.perf_counter() - t0
                target.write_bytes(original)
                rec = {
                    "case": case,
                    "file": str(target.relative_to(tree)),
                    "op": op,
                    "outcome": outcome,
                    "secs": round(secs, 4),
                    "detail": detail,
                }
                out.write(json.dumps(rec) + "\n")
                out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
