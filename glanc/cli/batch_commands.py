"""``glanc ingest``: take back the results of a batch file run elsewhere."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..artifact import publish
from ..options import BuildOptions, Workspace
from .flags import (
    exit_status,
    model_option,
    out_option,
    store_option,
    user_errors,
    wait_option,
    waiter,
)


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.argument("results", type=click.Path(path_type=Path, dir_okay=False))
@model_option("As the build that wrote the batch file (build --model).")
@store_option
@wait_option
@out_option("Builds directory; the dataset goes to OUT/<name>/ once nothing is left to run.")
@click.option("--no-lock", is_flag=True, help="As the build that wrote the batch file.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@user_errors
def ingest(
    spec: Path,
    results: Path,
    model: str | None,
    store: Path,
    wait: bool,
    out: Path,
    no_lock: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Take back the results of a batch file that glanc build --batch-file wrote.

    RESULTS is the OpenAI Batch output JSONL (and error lines, if any) that
    `vllm run-batch` or a provider's console made of the file: each line is
    filed by its custom_id (the node key) and judged as a direct call would
    be. A malformed line fails its node with the reason; the rest are taken.
    Then the build goes as far as the results reach, sending nothing: when
    nothing is left to run it writes OUT/<name>/ (exit 0, or 1 if nodes
    failed); otherwise run glanc build --batch-file again for the next wave
    (exit 3).

    \b
    Example:
        glanc build taxonomies/science.yaml --batch-file wave.jsonl
        vllm run-batch -i wave.jsonl -o results.jsonl --model Qwen/Qwen2.5-7B-Instruct
        glanc ingest taxonomies/science.yaml results.jsonl
    """
    from ..specs.resolve import load_taxonomy
    from ..tasks.ingest import ingest as run_ingest
    from .progress import Progress
    from .render import build_summary

    taxonomy = load_taxonomy(spec)
    publish.recover(out)
    workspace = Workspace(store=store, builds=out, wait=waiter(wait))
    options = BuildOptions(model=model, use_lock=not no_lock)
    result = run_ingest(taxonomy, results, workspace, options, None if quiet else Progress())
    built = result.build
    assert built is not None
    for path, n in result.filed.items() if not quiet else ():
        click.echo(f"took {n:,} result(s) for {path}", err=True)
    if result.unknown:
        click.echo(f"{result.unknown:,} line(s) name no request this store waits on: "
                   "left alone", err=True)  # fmt: skip
    if result.unreadable:
        where = ", ".join(str(n) for n in result.unreadable[:10])
        click.echo(f"{len(result.unreadable):,} line(s) without a custom_id (line {where}): "
                   "left alone", err=True)  # fmt: skip
    lines = build_summary(built)
    shown = lines if not quiet or built.waiting is not None else lines[1:]  # as build -q
    if shown:
        click.echo("\n".join(shown), err=True)
    if as_json:
        summary = {"filed": result.filed, "unknown": result.unknown,
                   "unreadable": result.unreadable, "build": built.as_json()}  # fmt: skip
        click.echo(json.dumps(summary, indent=2))
    sys.exit(exit_status(built))
