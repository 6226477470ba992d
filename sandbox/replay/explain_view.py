"""Render an `Explanation`: the finding, its reply, the memory it came from, the origin."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.text import Text

from sandbox.replay.blocks import Block
from sandbox.replay.evidence import finding_headline
from sandbox.replay.explain import Explanation
from sandbox.replay.memory_rows import namespace_text
from sandbox.replay.render import RenderOptions, TranscriptRenderer
from sandbox.replay.sanitize import clean, one_line, safe_text
from sandbox.replay.style import as_int, lead, severity_badge, severity_style, user_style

__all__ = ["explanation_json", "render_explanation"]

Event = dict[str, Any]


def _where(e: Event, renderer: TranscriptRenderer) -> Text:
    out = Text()
    if e.get("user") is not None:
        out.append(clean(e.get("user")), user_style(e.get("user")))
    if e.get("session") is not None:
        out.append(f" s{clean(e.get('session'))}")
    if e.get("turn") is not None:
        out.append(f" t{clean(e.get('turn'))}")
    stamp = renderer.clock.stamp(e.get("t_sim"))
    if stamp:
        out.append(f" · {stamp}", "dim")
    if e.get("seq") is not None:
        out.append(f" · seq {clean(e.get('seq'))}", "dim")
    return out


def _section(title: str) -> Rule:
    return Rule(Text(title, "bold"), align="left", style="dim")


def render_explanation(
    ex: Explanation, console: Console, options: RenderOptions | None = None
) -> None:
    """Print the chain behind one finding."""
    renderer = TranscriptRenderer(console, options)
    if ex.start is not None:
        renderer.observe(Block("run_start", None, None, None, [ex.start], done=True))
    f = ex.finding
    sev = f.get("severity", "medium")
    out: list[RenderableType] = []
    title = Text("finding ")
    title.append_text(severity_badge(sev))
    out.append(Rule(title, align="left", style=severity_style(sev)))
    out.append(finding_headline(f))
    out.append(lead("at ", "dim") + _where(f, renderer))
    ev = f.get("evidence")
    if isinstance(ev, dict):
        for k, v in ev.items():
            line = lead(f"  {clean(k)}: ", "dim")
            line.append_text(one_line(v if isinstance(v, str) else json.dumps(v, default=str), 200))
            out.append(line)
    out.append(_section("the turn it is about"))
    for r in out:
        console.print(r)
    if ex.about is None:
        console.print(Text("(the event it is about is not in the record)", "dim"))
    else:
        events = [e for e in (ex.prompt, *ex.retrievals, ex.about) if e is not None]
        unique = list({e.get("seq"): e for e in events}.values())
        block = Block(
            "turn",
            ex.about.get("user"),
            ex.about.get("session"),
            ex.about.get("turn"),
            unique,
            [f],
            done=True,
        )
        renderer.opts.retrievals = True
        for w in ex.writes:
            renderer.writes.add(w)
        renderer.assume_place(block.user, block.session)  # "at ..." above said where
        for r in renderer.render(block):
            console.print(r)
    console.print(_section("memory it came from"))
    if not ex.writes:
        console.print(Text("(no memory write named by the evidence was found)", "dim"))
    for w in ex.writes:
        line = lead("✎ ", "green")
        line.append(namespace_text(w.get("namespace")) + "/", "dim")
        line.append(clean(w.get("id", "?")), "bold")
        if w.get("owner") is not None:
            line.append(" owner ", "dim")
            line.append(clean(w.get("owner")), user_style(w.get("owner")))
        console.print(line)
        console.print(lead("  written ", "dim") + _where(w, renderer))
        console.print(Text("  ") + safe_text(w.get("text", ""), max_line=500, max_lines=10))
        origin = ex.origins.get(as_int(w.get("seq")) or -1)
        if origin is not None:
            console.print(lead("  after the user said, ", "dim") + _where(origin, renderer))
            console.print(
                Text("  ") + safe_text(origin.get("text", ""), max_line=500, max_lines=10)
            )
    console.print(_section("first said"))
    if ex.first_said is None:
        console.print(Text("(the evidence text was not found in any earlier user turn)", "dim"))
    else:
        console.print(_where(ex.first_said, renderer))
        console.print(Text("  ") + safe_text(ex.first_said.get("text", ""), max_line=500))
    console.print(_section("chain"))
    console.print(_chain(ex, renderer))


def _chain(ex: Explanation, renderer: TranscriptRenderer) -> Text:
    steps: list[Text] = []
    said = ex.first_said or next(iter(ex.origins.values()), None)
    if said is not None:
        steps.append(Text("said by ") + _where(said, renderer))
    for w in ex.writes[:3]:
        steps.append(Text(f"stored as {clean(w.get('id', '?'))} (seq {clean(w.get('seq'))})"))
    ids = {w.get("id") for w in ex.writes}
    for r in ex.retrievals:
        for h in r.get("hits") or []:
            if isinstance(h, dict) and (h.get("id") in ids or not ids):
                score = h.get("score")
                s = f", score {score:.2f}" if isinstance(score, int | float) else ""
                steps.append(Text(f"retrieved for {clean(r.get('user'))}{s}"))
                break
    if ex.about is not None:
        steps.append(Text(f"{clean(ex.about.get('kind'))} seq {clean(ex.about.get('seq'))}"))
    f = ex.finding
    steps.append(Text(clean(f.get("id", "?")), "bold " + severity_style(f.get("severity"))))
    out = Text()
    for i, step in enumerate(steps):
        if i:
            out.append(" → ", "dim")
        out.append_text(step)
    return out


def explanation_json(ex: Explanation) -> dict[str, Any]:
    """The chain as plain data, for `--json`."""
    return {
        "finding": ex.finding,
        "about": ex.about,
        "prompt": ex.prompt,
        "retrievals": ex.retrievals,
        "writes": ex.writes,
        "origins": {str(k): v for k, v in ex.origins.items()},
        "first_said": ex.first_said,
    }
