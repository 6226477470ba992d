"""`sandbox ablate`: a scenario under subsets of its personalization components."""

from __future__ import annotations

import json
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from sandbox.cli.executor_opts import AddressOpt, ExecutorOpt, check_executor, set_offline
from sandbox.cli.inspect_cmds import WidthOpt
from sandbox.text_safety import clean

__all__ = ["parse_seeds", "register"]


class DesignChoice(StrEnum):
    """Which cells to run (see ``sandbox.analysis.composition.design_cells``)."""

    full = "full"
    pairs = "pairs"
    ofat = "ofat"


def parse_seeds(text: str) -> list[int] | int:
    """``5`` means five seeds from the scenario's own; ``1,2,7`` or ``0-4`` are explicit.

    Raises:
        typer.BadParameter: on anything else.
    """
    t = text.strip()
    try:
        if "," in t:
            return [int(x) for x in t.split(",") if x.strip()]
        if m := re.fullmatch(r"(\d+)-(\d+)", t):
            return list(range(int(m[1]), int(m[2]) + 1)) or _bad("empty range")
        n = int(t)
    except ValueError:
        _bad(f"expected a count, a list (1,2,3) or a range (0-4): {text!r}")
    return n if n >= 1 else _bad("need at least one seed")


def _bad(msg: str) -> NoReturn:
    raise typer.BadParameter(msg, param_hint="--seeds")


def register(app: typer.Typer) -> None:
    """Add the ``ablate`` command to the main app."""

    @app.command()
    def ablate(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        components: Annotated[
            str | None,
            typer.Option(
                "--components",
                "-c",
                help="Comma-separated components to switch on and off (default: all known). "
                "Components not named stay as the agent config has them.",
            ),
        ] = None,
        seeds: Annotated[
            str,
            typer.Option(help="Seed count (from the scenario's seed), list 1,2,3 or range 0-4."),
        ] = "3",
        workers: Annotated[
            int | None,
            typer.Option("--workers", "-w", help="Parallel runs (default: cores; 1 in-process)."),
        ] = None,
        executor: ExecutorOpt = "pool",
        address: AddressOpt = None,
        design: Annotated[
            DesignChoice, typer.Option(help="full factorial, all pairs, or one at a time.")
        ] = DesignChoice.full,
        out: Annotated[Path | None, typer.Option(help="Folder that holds ablations.")] = None,
        ablation_id: Annotated[
            str | None,
            typer.Option(help="Folder name (default: from the plan, so re-running resumes)."),
        ] = None,
        agent: Annotated[
            Path | None, typer.Option(help="Agent config to use instead of the scenario's.")
        ] = None,
        alpha: Annotated[float, typer.Option(help="Significance level; CIs are 1-alpha.")] = 0.05,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print composition.json instead of tables.")
        ] = False,
        width: WidthOpt = None,
    ) -> None:
        """Run a scenario under every subset of components and find composed failures.

        Each cell uses the same seeds; finished runs are reused, so an interrupted
        ablation resumes when the same command is run again.
        """
        set_offline()
        from sandbox.ablate import AblationPlanError, run_ablation
        from sandbox.analysis.composition_view import render_composition
        from sandbox.record.lock import FolderBusyError
        from sandbox.spec import COMPONENTS, SpecError

        names = [c.strip() for c in (components or "").split(",") if c.strip()]
        names = names or list(COMPONENTS)
        out_root = out or Path(os.environ.get("SANDBOX_RUNS_DIR", "runs"))
        check_executor(executor, workers, address)
        try:
            root = run_ablation(
                scenario,
                names,
                parse_seeds(seeds),
                design=design.value,
                workers=workers,
                out_root=out_root,
                ablation_id=ablation_id,
                progress=not quiet,
                agent_override=agent,
                engine=executor,
                address=address,
                alpha=alpha,
            )
        except SpecError as exc:
            for issue in exc.issues:
                typer.echo(f"error {issue}", err=True)
            raise typer.Exit(code=2) from None
        except (AblationPlanError, ValueError, FolderBusyError) as exc:
            typer.echo(f"error: {clean(exc)}", err=True)
            raise typer.Exit(code=2) from None
        comp = json.loads((root / "composition.json").read_text(encoding="utf-8"))
        if as_json:
            typer.echo(json.dumps(comp, indent=2))
        else:
            from sandbox.replay.output import open_output

            with open_output(page=False, width=width) as console:
                render_composition(comp, console)
            Console(stderr=True).print(
                f"ablation written to {clean(root)}", markup=False, highlight=False
            )
        if comp.get("runs", {}).get("incomplete"):
            raise typer.Exit(code=1)
