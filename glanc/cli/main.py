"""The ``glanc`` command line: a thin layer over the library.

Every command's help ends with an example; a test fails if one is missing.
Input problems print one line each and exit 2, never a traceback.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import click

from ..trust import ALLOW_ROOT_ENV
from ..version import __version__
from . import batch_commands, compile_commands, review_commands, suggest_commands
from .flags import handle_sigterm


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="glanc")
@click.option(
    "--allow-root",
    "allow_roots",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Let specs name files (templates, benchmark files, model files) under DIR too, "
    "besides the spec's own repository (repeatable; or GLANC_ALLOW_ROOT=DIR1:DIR2).",
    metavar="DIR",
)
def main(allow_roots: tuple[Path, ...]) -> None:
    """glanc compiles YAML taxonomy specs into GLAN instruction-tuning datasets.

    \b
    Example:
        glanc validate taxonomies/science.yaml
        glanc plan taxonomies/science.yaml
        glanc build taxonomies/science.yaml
        glanc --allow-root ~/benchmarks check taxonomies/science.yaml
    """
    if allow_roots:  # the spec loader reads it, in this process and any helper it starts
        known = [p for p in os.environ.get(ALLOW_ROOT_ENV, "").split(os.pathsep) if p]
        os.environ[ALLOW_ROOT_ENV] = os.pathsep.join([*known, *map(str, allow_roots)])
    # Python's collector runs every 700 new objects by default and walks the
    # long-lived ones again and again: a plan of 10,000 disciplines holds a few
    # hundred thousand, and those passes were 0.3-0.4 s of its 2.5 s. Set here, by
    # the program, not by the library: a caller's process keeps its own policy.
    gc.set_threshold(50_000, 20, 20)
    handle_sigterm()


for command in (
    compile_commands.validate,
    compile_commands.build,
    compile_commands.plan,
    compile_commands.gc,
    batch_commands.ingest,
    review_commands.check,
    review_commands.diff,
    review_commands.export,
    review_commands.report,
    review_commands.show,
    suggest_commands.suggest,
    suggest_commands.review,
):
    main.add_command(command)
