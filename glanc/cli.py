"""The ``glanc`` command line: a thin layer over the library.

Every command's help ends with an example; a test fails if one is missing.
Input problems print one line each and exit 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from . import __version__, faults, publish
from .errors import GlancError, Interrupted, SpecError

DEFAULT_STORE = Path(".glanc/cache.duckdb")
DEFAULT_OUT = Path("builds")


def _user_errors(fn):
    """Turn ``GlancError`` into its message on stderr and its exit code; a fault
    of the store, the disk or permissions into one line and exit 2; Ctrl-C
    anywhere into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            try:
                return fn(*args, **kwargs)
            except KeyboardInterrupt:
                raise Interrupted(
                    "interrupted: builds/ holds the previous artifact, whole; finished nodes are "
                    "kept in the store: run the same command again"
                ) from None
            except Exception as exc:
                fault = faults.describe(exc)
                if fault is None:
                    raise
                raise GlancError(fault) from None
        except GlancError as exc:
            click.echo(f"error: {exc}" if not isinstance(exc, SpecError) else str(exc), err=True)
            if isinstance(exc, Interrupted) and exc.abandon:
                # worker threads may sit in a model call for minutes: exit without
                # joining them (the store is already closed, the builds/ files untouched)
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(exc.exit_code)
            sys.exit(exc.exit_code)

    return wrapper


def _store_option(fn):
    return click.option(
        "--store",
        type=click.Path(path_type=Path),
        default=DEFAULT_STORE,
        show_default=True,
        help="The DuckDB node store (the cache).",
    )(fn)


def _out_option(help: str):
    return click.option(
        "--out",
        type=click.Path(path_type=Path),
        default=DEFAULT_OUT,
        show_default=True,
        help=help,
    )


def _wait_option(fn):
    return click.option(
        "--wait", is_flag=True, help="If another glanc process holds the store, wait for it."
    )(fn)


def _selection_options(fn):
    fn = click.option(
        "--force",
        is_flag=True,
        help="Rerun the selected nodes even when cached (new seeds; old results kept).",
    )(fn)
    fn = click.option(
        "--exclude",
        "-x",
        multiple=True,
        metavar="SELECTOR",
        help="Leave these nodes out (same syntax as --select).",
    )(fn)
    return click.option(
        "--select",
        "-s",
        multiple=True,
        metavar="SELECTOR",
        help="Only these nodes: taxonomy paths ('Natural Sciences/Physics', '+' for everything "
        "under), stage:NAME[+], state:new|modified|failed; space = union, comma = intersection.",
    )(fn)


def _waiter(wait: bool):
    if not wait:
        return None
    return lambda message: click.echo(f"waiting: {message.split(';')[0]}", err=True)


def _selection(taxonomy, select: tuple[str, ...], exclude: tuple[str, ...], force: bool):
    from .select import parse

    if force and not select:
        raise GlancError(
            "--force needs --select: say which nodes to rerun, e.g. --select 'stage:answer'"
        )
    return parse(taxonomy, select, exclude)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="glanc")
def main() -> None:
    """glanc compiles YAML taxonomy specs into GLAN instruction-tuning datasets.

    \b
    Example:
        glanc validate taxonomies/science.yaml
        glanc plan taxonomies/science.yaml
        glanc build taxonomies/science.yaml
    """


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@_user_errors
def validate(specs: tuple[Path, ...]) -> None:
    """Check taxonomy and template specs; report every problem as file:line:col.

    Exits 0 when all specs are valid, 2 otherwise.

    \b
    Example:
        glanc validate taxonomies/science.yaml taxonomies/glan.yaml
    """
    from .validate import validate_paths

    problems = validate_paths(list(specs))
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(2)
    click.echo(f"{len(specs)} spec(s) valid")


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--model", help="Use this model for every stage (e.g. 'stub' for a dry run).")
@_store_option
@_selection_options
@_wait_option
@_out_option("Builds directory; the dataset goes to OUT/<name>/.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=16,
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
    help="Do not reuse OUT/<name>/lock.jsonl: call the model for every node not in the store.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@_user_errors
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
    as_json: bool,
    quiet: bool,
) -> None:
    """Build the dataset of a taxonomy spec, calling models only for nodes not in the store.

    Progress goes to stderr. Exits 0 when every node succeeded, 1 when some
    failed (the dataset holds the rest; rerun to retry them), 2 on bad input,
    130 when interrupted (finished nodes are kept; rerun to resume). With
    --select, nodes left out are used when cached and skipped otherwise.

    Writes OUT/<name>/: dataset.jsonl, lock.jsonl (every node used, so a fresh
    clone rebuilds without a model call), manifest.json and README.md (the
    dataset card).

    \b
    Example:
        glanc build taxonomies/science.yaml
        glanc build taxonomies/science.yaml --model stub --json
        glanc build taxonomies/science.yaml -s 'stage:answer,Natural Sciences/Physics+' --force
    """
    from .progress import Progress
    from .resolve import load_taxonomy
    from .run import build as run_build

    taxonomy = load_taxonomy(spec)
    selection = _selection(taxonomy, select, exclude, force)
    publish.recover(out)
    progress = Progress(enabled=not quiet)
    result = run_build(
        taxonomy,
        store_path=store,
        out_dir=out,
        model=model,
        concurrency=concurrency,
        progress=progress,
        selection=selection,
        force=force,
        on_wait=_waiter(wait),
        use_lock=not no_lock,
        rpm=rpm,
        tpm=tpm,
    )
    if not quiet:
        click.echo(
            f"built {result.rows} rows into {result.dataset} in {result.seconds:.1f}s: "
            f"{result.lm_calls} model calls, tokens {result.tokens_in} in / "
            f"{result.tokens_out} out",
            err=True,
        )
        for failure in result.failures[:20]:
            click.echo(
                f"failed {failure.stage} [{failure.discipline}] {failure.key[:12]}: "
                f"{failure.error}",
                err=True,
            )
        if len(result.failures) > 20:
            click.echo(f"... and {len(result.failures) - 20} more failures", err=True)
        skipped = sum(st.skipped for st in result.stages.values())
        if skipped:
            click.echo(
                f"skipped {skipped} node(s) outside the selection: the dataset lacks their rows",
                err=True,
            )
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
    sys.exit(0 if result.ok else 1)


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--model", help="Plan as if this model ran every stage (as build --model).")
@_store_option
@_selection_options
@_wait_option
@_out_option("Builds directory: OUT/<name>/lock.jsonl counts as cached, as in build.")
@click.option("--no-lock", is_flag=True, help="Plan as build --no-lock.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout.")
@click.option("--all", "show_all", is_flag=True, help="List every known node that will run.")
@_user_errors
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
) -> None:
    """Show what a build would do, and why, without calling a model or writing the store.

    Per stage: nodes cached, nodes that will run (with a reason: new,
    program_changed, model_changed, decoding_changed, upstream_changed,
    failed_before, forced), nodes estimated from the spec's counts below nodes
    that will run, and nodes skipped by the selection; then model calls,
    tokens (store averages) and cost (when models have a price).

    \b
    Example:
        glanc plan taxonomies/science.yaml
        glanc plan taxonomies/science.yaml --select 'Natural Sciences/Physics+' --json
    """
    from .plan import plan as make_plan
    from .report import plan_text
    from .resolve import load_taxonomy
    from .store import Store

    taxonomy = load_taxonomy(spec)
    selection = _selection(taxonomy, select, exclude, force)
    publish.recover(out)
    with Store(store, read_only=True, on_wait=_waiter(wait)) as st:
        if not no_lock:
            st.overlay_lock(out / taxonomy.name / "lock.jsonl")
        result = make_plan(taxonomy, st, model=model, selection=selection, force=force)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
    else:
        click.echo(plan_text(result, limit=None if show_all else 20))


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", help="Keep what these specs build with this model (as build --model).")
@_store_option
@_wait_option
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
@_user_errors
def gc(specs: tuple[Path, ...], model: str | None, store: Path, wait: bool, dry_run: bool) -> None:
    """Remove store rows that no given spec reaches (old versions, removed disciplines).

    Keeps every node a build of any of SPECS would use or retry, with the
    older results of those nodes that forced reruns kept. Name every spec
    that shares the store: rows only the others reach are removed.

    \b
    Example:
        glanc gc taxonomies/science.yaml taxonomies/glan.yaml --dry-run
    """
    from .plan import reachable
    from .resolve import load_taxonomy
    from .store import Store

    taxonomies = [load_taxonomy(spec) for spec in specs]
    if not store.exists():
        click.echo(f"{store}: no store, nothing to remove")
        return
    with Store(store, read_only=dry_run, on_wait=_waiter(wait)) as st:
        keep: set[str] = set()
        for taxonomy in taxonomies:
            keep |= reachable(taxonomy, st, model=model)
        gone = st.unreached(keep) if dry_run else st.delete_unreached(keep)
    total = sum(sum(t.values()) for t in gone.values())
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {total} row(s); {len(keep)} reachable node(s) kept")
    for table, stages in gone.items():
        for stage, n in stages.items():
            click.echo(f"  {table:<8} {stage:<9} {n}")


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@_out_option("Builds directory holding <name>/.")
@click.option("--model", help="Check a build made with build --model.")
@click.option(
    "--store",
    type=click.Path(path_type=Path),
    default=DEFAULT_STORE,
    show_default=True,
    help="Only read, to report lock outputs that differ from it; never used to rebuild.",
)
@_user_errors
def check(spec: Path, out: Path, model: str | None, store: Path) -> None:
    """Verify that OUT/<name>/ is exactly what the spec and its lock produce.

    No model call, no network, and the local store is not used to rebuild
    (only read, to note lock outputs that differ from it). Exits 0 when
    dataset.jsonl, lock.jsonl, manifest.json and README.md match; 1 with a list
    of nodes the spec needs that the lock lacks (run glanc build) and of
    files and rows that are stale; 2 on bad input. Meant for CI.

    \b
    Example:
        glanc check taxonomies/science.yaml
    """
    from .check import check as run_check
    from .diff import render_text
    from .resolve import load_taxonomy

    taxonomy = load_taxonomy(spec)
    publish.recover(out)
    result = run_check(taxonomy, out, model=model, store=store)
    where = result.build_dir
    if result.rewritten:
        click.echo(
            f"note: {len(result.rewritten)} lock output(s) differ from what {store} holds for the "
            "same key (output changed without its input: hand-edited, or regenerated with "
            "--force or on another machine); glanc diff shows the rows",
            err=True,
        )
        for stage, key in result.rewritten[:10]:
            click.echo(f"  {stage:<9} {key[:16]}", err=True)
    if result.ok:
        click.echo(f"{where}: up to date with {spec}")
        return
    click.echo(f"{where}: out of date with {spec}", err=True)
    if result.missing:
        click.echo(
            f"missing: {len(result.missing)} node(s) the spec needs are not in the lock "
            f"(and whatever lies below them); run: glanc build {spec}",
            err=True,
        )
        for m in result.missing[:20]:
            click.echo(f"  {m.stage:<9} {m.path} #{m.index}", err=True)
        if len(result.missing) > 20:
            click.echo(f"  ... and {len(result.missing) - 20} more", err=True)
    for name in result.stale:
        click.echo(f"stale: {where / name} differs from what the spec and lock produce", err=True)
    if result.rows is not None and not result.rows.empty:
        click.echo(render_text(result.rows), err=True)
    sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1, type=str)
@click.option("--base", metavar="REV", help="Compare each build with itself at this git revision.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="markdown fits a pull-request comment.",
)
@click.option(
    "--samples",
    type=click.IntRange(0, 100),
    default=3,
    show_default=True,
    help="Example rows per kind of change and taxonomy path.",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when the datasets differ.")
@_out_option("Builds directory, for --base without paths.")
@_user_errors
def diff(
    paths: tuple[str, ...], base: str | None, fmt: str, samples: int, exit_code: bool, out: Path
) -> None:
    """Show rows added, removed and changed between two builds, by taxonomy path.

    OLD and NEW are build directories, dataset files, or REV:DIR for a build
    at a git revision. With --base REV, each given build directory (default:
    every build under OUT) is compared with itself at REV.

    \b
    Example:
        glanc diff old-builds/science builds/science
        glanc diff HEAD~1:builds/science builds/science
        glanc diff --base origin/main --format markdown
    """
    import tempfile

    from . import git
    from .diff import diff_datasets, render_markdown, render_text

    for builds in {out, *(Path(p).parent for p in paths if Path(p).is_dir())}:
        publish.recover(builds)
    with tempfile.TemporaryDirectory(prefix="glanc-diff-") as tmp:
        pairs: list[tuple[Side, Side]] = []
        if base:
            dirs = [Path(p) for p in paths] or sorted(
                {p.parent for p in out.glob("*/dataset.jsonl")} | git.builds_at(base, out)
            )
            for i, d in enumerate(dirs):
                old = _from_git(base, d, Path(tmp) / f"old{i}.jsonl")
                pairs.append((old, (str(d), d / "dataset.jsonl", d / "lock.jsonl")))
        else:
            if len(paths) != 2:
                raise GlancError("diff needs OLD and NEW, or --base REV: see glanc diff --help")
            pairs.append(
                tuple(_source(p, Path(tmp) / f"side{i}.jsonl") for i, p in enumerate(paths))
            )
        diffs = [
            diff_datasets(
                old[1],
                new[1],
                samples=samples,
                old_label=old[0],
                new_label=new[0],
                old_lock=old[2],
                new_lock=new[2],
            )
            for old, new in pairs
        ]
    if fmt == "json":
        click.echo(
            json.dumps([d.as_json() for d in diffs] if base else diffs[0].as_json(), indent=2)
        )
    else:
        render = render_markdown if fmt == "markdown" else render_text
        click.echo("\n".join(render(d) for d in diffs))
    if exit_code and any(not d.empty for d in diffs):
        sys.exit(1)


# a diff side: its label, its dataset file and its lock file (None when missing)
Side = tuple[str, Path | None, Path | None]


def _from_git(rev: str, build_dir: Path, dest: Path) -> Side:
    from . import git

    found = git.show(rev, build_dir / "dataset.jsonl", dest)
    lock = dest.with_suffix(".lock.jsonl")
    has_lock = git.show(rev, build_dir / "lock.jsonl", lock)
    return (f"{rev}:{build_dir.as_posix()}", dest if found else None, lock if has_lock else None)


def _source(arg: str, dest: Path) -> Side:
    """A diff side: a build directory, a dataset file, or REV:DIR."""
    path = Path(arg)
    if path.is_dir():
        return (arg, path / "dataset.jsonl", path / "lock.jsonl")
    if path.is_file():
        return (arg, path, path.parent / "lock.jsonl")
    if ":" in arg:
        rev, _, rest = arg.partition(":")
        rest_path = Path(rest or ".")
        if rest_path.suffix == ".jsonl":
            from . import git

            lock = dest.with_suffix(".lock.jsonl")
            found = git.show(rev, rest_path, dest)
            has_lock = git.show(rev, rest_path.parent / "lock.jsonl", lock)
            return (arg, dest if found else None, lock if has_lock else None)
        return _from_git(rev, rest_path, dest)
    raise GlancError(f"{arg}: no such build directory or dataset file (or REV:DIR)")


@main.command()
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "parquet", "chat"]),
    default="chat",
    show_default=True,
    help='chat: {"messages": [...]} per line, as fine-tuning tools read it.',
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="File to write (default: stdout; parquet needs a file).",
)
@_out_option("Builds directory holding NAME/.")
@_user_errors
def export(name: str, fmt: str, output: Path | None, out: Path) -> None:
    """Export build NAME's dataset as chat JSONL, full JSONL or Parquet.

    NAME is a build name under OUT or a build directory.

    \b
    Example:
        glanc export science --format parquet -o science.parquet
        glanc export science > science.chat.jsonl
    """
    from .export import export as run_export

    build_dir = Path(name) if Path(name).is_dir() else out / name
    publish.recover(build_dir.parent)
    written = run_export(build_dir / "dataset.jsonl", fmt, output)
    if written is not None:
        click.echo(f"wrote {written}", err=True)
