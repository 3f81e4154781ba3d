"""The commands that compile: validate specs, plan a build, build, collect garbage."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..artifact import publish
from ..options import DEFAULT_CONCURRENCY, BuildOptions, Workspace
from .flags import (
    backend_option,
    exit_status,
    model_option,
    out_option,
    selection,
    selection_options,
    store_option,
    user_errors,
    wait_option,
    waiter,
)

DRY_RUN = Path(".glanc/dry-run")  # where --model stub builds go unless --out says otherwise


def is_stub(model: str | None) -> bool:
    return model is not None and (model == "stub" or model.startswith("stub:"))


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user gave option ``name`` (not its default)."""
    return ctx.get_parameter_source(name) not in (
        click.core.ParameterSource.DEFAULT,
        click.core.ParameterSource.DEFAULT_MAP,
    )


def _price(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: give USD per million tokens in and out, e.g. 0.15,0.60",
            param_hint="--price",
        ) from None
    return a, b


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--strict", is_flag=True, help="Also fail while any taxonomy node is pending review (for CI)."
)
@user_errors
def validate(specs: tuple[Path, ...], strict: bool) -> None:
    """Check taxonomy and template specs; report every problem as file:line:col.

    Exits 0 when all specs are valid, 2 otherwise. With --strict, a node with
    `review: pending` is a problem too: CI fails until every suggestion is
    reviewed (set `keep` or `drop`, or delete the key to keep it).

    \b
    Example:
        glanc validate taxonomies/science.yaml taxonomies/glan.yaml
        glanc validate --strict taxonomies/science.yaml
    """
    from ..specs.validate import validate_paths

    problems = validate_paths(list(specs), strict=strict)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(2)
    click.echo(f"{len(specs)} spec(s) valid")


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@model_option("Use this model for every stage (e.g. 'stub' for a dry run).")
@store_option
@selection_options
@wait_option
@out_option("Builds directory; the dataset goes to OUT/<name>/.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Model calls in flight at once (an in-process model runs one at a time).",
)
@click.option(
    "--rpm",
    type=click.IntRange(1, None),
    help="Requests per minute to each remote model, at most (a model's own rpm wins).",
)
@click.option(
    "--tpm",
    type=click.IntRange(1, None),
    help="Tokens per minute to each remote model, at most (a model's own tpm wins).",
)
@click.option(
    "--no-lock",
    is_flag=True,
    help="Do not reuse OUT/<name>/lock/: call the model for every node not in the store.",
)
@backend_option
@click.option(
    "--ray-address",
    metavar="ADDRESS",
    help="With --backend ray: the Ray cluster to run on (ray://HEAD:10001, or auto for the one "
    "this machine belongs to); default: the spec's execution.ray_address, else RAY_ADDRESS, "
    "else a local Ray.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Spread the calls over this many worker processes, each running its share of "
    "--concurrency on threads: for remote models when one core cannot keep up.",
)
@click.option(
    "--batch-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write each wave of batched calls to this OpenAI Batch JSONL file instead of sending "
    "it (for vllm run-batch or a provider's console), then stop; take the results back with "
    "glanc ingest. Implies --backend batch.",
)
@click.option(
    "--detach",
    is_flag=True,
    help="With batched models: send each wave and stop (exit 3) instead of waiting for it; "
    "the same command again takes back what is done and sends the next wave.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@user_errors
def build(
    spec: Path,
    model: str | None,
    store: Path,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    force: bool,
    wait: bool,
    out: Path,
    concurrency: int,
    rpm: int | None,
    tpm: int | None,
    no_lock: bool,
    backend: str | None,
    ray_address: str | None,
    processes: int,
    batch_file: Path | None,
    detach: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Build the dataset of a taxonomy spec, calling models only for nodes not in the store.

    Progress goes to stderr. Exits 0 when every node succeeded, 1 when some
    failed (the dataset holds the rest; rerun to retry them), 2 on bad input,
    3 when calls wait on a batch file (--batch-file: run it, glanc ingest the
    results, build again) or on batches left at the provider (--detach: build
    again later); OUT is untouched then. 130 when interrupted (finished
    nodes and batches sent are kept; rerun to resume). With
    --select, nodes left out are used when cached and skipped otherwise. Taxonomy
    nodes with `review: pending` or `drop` are left out with their subtrees.

    Writes OUT/<name>/: data/ (the rows), lock/ (every node used, so a fresh
    clone rebuilds without a model call), dropped/ and shares/ (what each
    discipline depends on and counted), a file per discipline each;
    manifest.json (every file, its digest and lines) and README.md (the
    dataset card). A discipline whose inputs and files are as its share says
    is carried over without walking its nodes: adding one discipline costs
    that discipline.

    \b
    Example:
        glanc build taxonomies/science.yaml
        glanc build taxonomies/science.yaml --model stub --json
        glanc build taxonomies/science.yaml -s 'stage:answer,Natural Sciences/Physics+' --force
        glanc build taxonomies/science.yaml --backend batch
        glanc build taxonomies/science.yaml --backend ray --ray-address ray://head:10001
        glanc build big.yaml --concurrency 128 --processes 4
    """
    from ..specs.resolve import load_taxonomy
    from ..tasks.build import build as run_build
    from .progress import Progress
    from .render import build_summary

    taxonomy = load_taxonomy(spec)
    chosen = selection(taxonomy, select, exclude, force)
    if is_stub(model) and not given(click.get_current_context(), "out"):
        out = DRY_RUN  # a dry run writes beside the real builds, never over them
        if not quiet:
            click.echo(f"dry run with the stub model: writing to {out / taxonomy.name}/ "
                       "(pass --out to choose)", err=True)  # fmt: skip
    publish.recover(out)
    workspace = Workspace(store=store, builds=out, wait=waiter(wait))
    options = BuildOptions(model=model, selection=chosen, force=force, use_lock=not no_lock,
                           concurrency=concurrency, rpm=rpm, tpm=tpm, backend=backend,
                           ray_address=ray_address, processes=processes,
                           batch_file=batch_file, detach=detach)  # fmt: skip
    result = run_build(taxonomy, workspace, options, None if quiet else Progress())
    lines = build_summary(result)
    if taxonomy.reviewed:
        left = ", ".join(f"{'/'.join(r.path)} ({r.state})" for r in taxonomy.reviewed)
        lines.append(f"left out, under review: {left}")
    # -q quiets progress and the summary line, never a warning or a failure
    shown = lines if not quiet or result.waiting is not None else lines[1:]
    if shown:
        click.echo("\n".join(shown), err=True)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
    sys.exit(exit_status(result))


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@model_option("Plan as if this model ran every stage (as build --model).")
@store_option
@selection_options
@wait_option
@out_option("Builds directory: OUT/<name>/lock/ counts as cached, as in build.")
@click.option("--no-lock", is_flag=True, help="Plan as build --no-lock.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout.")
@click.option("--all", "show_all", is_flag=True, help="List every known node that will run.")
@backend_option
@click.option(
    "--price",
    metavar="IN,OUT",
    help="USD per million tokens in and out, for models the spec gives no price "
    "(e.g. 0.15,0.60): prices the plan and what keeping pending nodes would add.",
)
@user_errors
def plan(
    spec: Path,
    model: str | None,
    store: Path,
    out: Path,
    no_lock: bool,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    force: bool,
    wait: bool,
    as_json: bool,
    show_all: bool,
    backend: str | None,
    price: str | None,
) -> None:
    """Show what a build would do, and why, without calling a model or writing the store.

    Per stage: nodes cached, nodes that will run (with a reason: new,
    program_changed, model_changed, decoding_changed, upstream_changed,
    failed_before, forced), nodes estimated from the spec's counts below nodes
    that will run, and nodes skipped by the selection; then model calls,
    tokens (store averages) and cost (when models have a price; a model on a
    Batch API at its batch price). Nodes pending review are left out; the plan
    says what keeping them would add. Batches sent and not taken back yet (in
    flight, or batch files awaiting glanc ingest) are listed with their age.

    \b
    Example:
        glanc plan taxonomies/science.yaml
        glanc plan taxonomies/science.yaml --select 'Natural Sciences/Physics+' --json
    """
    from ..specs.resolve import load_taxonomy
    from ..tasks.plan import plan as make_plan
    from .render import plan_text

    taxonomy = load_taxonomy(spec)
    chosen = selection(taxonomy, select, exclude, force)
    publish.recover(out)
    workspace = Workspace(store=store, builds=out, wait=waiter(wait))
    options = BuildOptions(model=model, selection=chosen, force=force, use_lock=not no_lock,
                           backend=backend)  # fmt: skip
    result = make_plan(taxonomy, workspace, options, price=_price(price))
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
    else:
        click.echo(plan_text(result, limit=None if show_all else 20))


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@model_option("Keep what these specs build with this model (as build --model).")
@store_option
@wait_option
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
@out_option("Builds directory: the nodes of OUT/<name>/lock/ are kept.")
@user_errors
def gc(
    specs: tuple[Path, ...], model: str | None, store: Path, wait: bool, dry_run: bool, out: Path
) -> None:
    """Remove store rows that no given spec reaches (old versions, removed disciplines).

    Keeps every node a build of any of SPECS would use or retry, with the
    older results of those nodes that forced reruns kept, every node of their
    last lock (the quality gate's redraws and judge calls), and the calls
    `glanc suggest` made for nodes they still name. Name every spec that
    shares the store: rows only the others reach are removed.

    \b
    Example:
        glanc gc taxonomies/science.yaml taxonomies/glan.yaml --dry-run
    """
    from ..specs.resolve import load_taxonomy
    from ..tasks.gc import collect

    taxonomies = [load_taxonomy(spec) for spec in specs]
    if not store.exists():
        click.echo(f"{store}: no store, nothing to remove")
        return
    result = collect(
        taxonomies, store, model=model, dry_run=dry_run, wait=waiter(wait), builds=out
    )
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {result.total} row(s); {result.kept} reachable node(s) kept")
    for table, stages in result.gone.items():
        for stage, n in stages.items():
            click.echo(f"  {table:<8} {stage:<9} {n}")
