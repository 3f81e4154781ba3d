"""What every command shares: turning errors into one line and an exit code,
the options several commands take, and flags into the library's objects."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
from pathlib import Path

import click

from .. import faults
from ..errors import GlancError, Interrupted, SpecError
from ..options import DEFAULT_BUILDS, DEFAULT_STORE
from ..specs.models import BACKENDS

WAITING = 3  # exit status of a build whose calls wait on a batch file
SHORT = 4  # exit status of a build whose quota was left short (every redraw dropped)
TERMINATED = 128 + signal.SIGTERM  # exit status after SIGTERM, as a shell reports it
_sigterm = threading.Event()


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: a build stops as on Ctrl-C (workers and
    helpers ended, finished nodes kept), then exits 143 with one line."""


def on_sigterm(signum: int, frame: object) -> None:
    _sigterm.set()
    raise Terminated()


def handle_sigterm() -> None:
    """Make SIGTERM (a CI runner's cancel, ``kill``, a container's stop) behave as
    Ctrl-C does; only from the main thread (a library caller's process may not be)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)


def exit_status(result) -> int:
    """0 whole; 1 nodes failed; 3 calls wait on batches; 4 every node done but the
    quota left short (the quality checks dropped every redraw of some rows)."""
    if result.waiting is not None:
        return WAITING
    if not result.ok:
        return 1
    return SHORT if result.short else 0


def user_errors(fn):
    """Turn ``GlancError`` into its message on stderr and its exit code; a fault
    of the store, the disk or permissions into one line and exit 2; Ctrl-C
    anywhere (DuckDB's form of it included, ``faults.interrupted``) into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                if not faults.interrupted(exc):
                    if not isinstance(exc, Exception):
                        raise
                    fault = faults.describe(exc)
                    if fault is None:
                        raise
                    raise GlancError(fault) from None
                raise Interrupted(
                    "interrupted: builds/ holds the previous artifact, whole; finished nodes are "
                    "kept in the store: run the same command again"
                ) from None
        except GlancError as exc:
            code = exc.exit_code
            if isinstance(exc, Interrupted) and _sigterm.is_set():
                code = TERMINATED
                exc = Interrupted(f"terminated (SIGTERM); {exc}".replace("; interrupted:", ":"),
                                  abandon=exc.abandon)  # fmt: skip
            click.echo(f"error: {exc}" if not isinstance(exc, SpecError) else str(exc), err=True)
            if kwargs.get("as_json"):  # --json: a script reads stdout, whatever happened
                click.echo(json.dumps({"error": str(exc), "exit_status": code}, indent=2))
            if isinstance(exc, Interrupted) and exc.abandon:
                # worker threads may sit in a model call for minutes: exit without
                # joining them (the store is already closed, the builds/ files untouched)
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
            sys.exit(code)

    return wrapper


def store_option(fn):
    return click.option(
        "--store",
        type=click.Path(path_type=Path),
        default=DEFAULT_STORE,
        show_default=True,
        help="The DuckDB node store (the cache).",
    )(fn)


def cli_model(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--model PATH.gguf`` is a path the user typed: relative to the working
    directory (a model in a spec is relative to the spec)."""
    if value and value.endswith(".gguf"):
        path = Path(os.path.expanduser(value))
        return str(path if path.is_absolute() else path.resolve())
    return value


def model_option(help: str):
    return click.option("--model", callback=cli_model, help=help)


def out_option(help: str):
    return click.option(
        "--out",
        type=click.Path(path_type=Path),
        default=DEFAULT_BUILDS,
        show_default=True,
        help=help,
    )


def backend_option(fn):
    return click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        help="Where every model's calls run: threads (one request at a time), batch (the "
        "provider's Batch API, about half price) or ray (Ray workers, local or a cluster: "
        "pip install 'glanc[ray]'); default: the spec's execution.backend, else threads with "
        "batch for models marked batch:.",
    )(fn)


def wait_option(fn):
    return click.option(
        "--wait", is_flag=True, help="If another glanc process holds the store, wait for it."
    )(fn)


def selection_options(fn):
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


def waiter(wait: bool):
    if not wait:
        return None
    return lambda message: click.echo(f"waiting: {message.split(';')[0]}", err=True)


def selection(taxonomy, select: tuple[str, ...], exclude: tuple[str, ...], force: bool):
    from ..plan.select import parse

    if force and not select:
        raise GlancError(
            "--force needs --select: say which nodes to rerun, e.g. --select 'stage:answer'"
        )
    return parse(taxonomy, select, exclude)
