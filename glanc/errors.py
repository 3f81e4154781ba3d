"""Errors a user can act on.

Every failure caused by input (a spec, a model name, a store in use) is a
``GlancError``: the CLI prints its one-line message and exits 2, never a
traceback. Anything else escaping is a bug in glanc.
"""

from __future__ import annotations

from dataclasses import dataclass

# A stored node error with this prefix is the server's or the network's, not the
# model's answer: a rerun repeats the same request rather than drawing a new seed.
TRANSPORT = "transport: "


class GlancError(Exception):
    """An input problem the user can fix; ``str()`` is the whole message."""

    exit_code = 2


class Interrupted(GlancError):
    """Ctrl-C during a build: what was finished is kept; the message says how to resume.
    ``abandon``: worker threads may still sit in model calls, so the CLI exits
    without joining them."""

    exit_code = 130

    def __init__(self, message: str, *, abandon: bool = False):
        super().__init__(message)
        self.abandon = abandon


@dataclass(frozen=True)
class Problem:
    """One located problem in a spec file, as ``file:line:col: path: message``."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.path}: {self.message}"


class SpecError(GlancError):
    """A spec has one or more problems; all of them are reported at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
