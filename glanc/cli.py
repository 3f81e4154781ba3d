"""The ``glanc`` command line: a thin layer over the library.

Every command's help ends with an example; a test fails if one is missing.
Input problems print one line each and exit 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path

import click

from . import __version__
from .errors import GlancError, SpecError

DEFAULT_STORE = Path(".glanc/cache.duckdb")
DEFAULT_OUT = Path("builds")


def _user_errors(fn):
    """Turn ``GlancError`` into its message on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GlancError as exc:
            click.echo(f"error: {exc}" if not isinstance(exc, SpecError) else str(exc), err=True)
            sys.exit(exc.exit_code)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="glanc")
def main() -> None:
    """glanc compiles YAML taxonomy specs into GLAN instruction-tuning datasets.

    \b
    Example:
        glanc validate taxonomies/science.yaml
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
@click.option(
    "--store",
    type=click.Path(path_type=Path),
    default=DEFAULT_STORE,
    show_default=True,
    help="The DuckDB node store (the cache).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Builds directory; the dataset goes to OUT/<name>/.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=4,
    show_default=True,
    help="Model calls in flight at once (an in-process model runs one at a time).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@_user_errors
def build(
    spec: Path,
    model: str | None,
    store: Path,
    out: Path,
    concurrency: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Build the dataset of a taxonomy spec, calling models only for nodes not in the store.

    Progress goes to stderr. Exits 0 when every node succeeded, 1 when some
    failed (the dataset holds the rest; rerun to retry them), 2 on bad input.

    \b
    Example:
        glanc build taxonomies/science.yaml
        glanc build taxonomies/science.yaml --model stub --json
    """
    from .progress import Progress
    from .resolve import load_taxonomy
    from .run import build as run_build

    # DSPy logs each truncated response; glanc records and retries those itself.
    logging.getLogger("dspy").setLevel(logging.ERROR)
    taxonomy = load_taxonomy(spec)
    progress = Progress(enabled=not quiet)
    result = run_build(
        taxonomy,
        store_path=store,
        out_dir=out,
        model=model,
        concurrency=concurrency,
        progress=progress,
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
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
    sys.exit(0 if result.ok else 1)
