"""``glanc ingest``: the results of a batch file, run elsewhere, taken back by key.

``glanc build --batch-file`` records each wave it writes (every request's node
key, draw and body digest) in the store. Ingest files each result line with
the wave that holds its ``custom_id``, then walks the build as far as those
results go without sending anything: every line is judged by the same parser
and checks as a direct call, a malformed one fails its node with the reason,
and when nothing is left to run the artifact is written as a build would.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import GlancError
from ..execute.backends.batch_lines import custom_id
from ..execute.events import Observer
from ..options import BuildOptions, Workspace
from ..specs.types import Taxonomy
from ..store import Store
from ..store.batches import WRITTEN
from .build import BuildResult, build


@dataclass
class IngestResult:
    """What the results file held: lines filed per batch file, lines naming no
    request of this store's batch files, lines without a custom_id; and the
    build that took them back."""

    filed: dict[str, int] = field(default_factory=dict)  # batch file -> result lines
    unknown: int = 0
    unreadable: list[int] = field(default_factory=list)  # line numbers
    build: BuildResult | None = None


def ingest(
    taxonomy: Taxonomy,
    results: Path,
    workspace: Workspace | None = None,
    options: BuildOptions | None = None,
    observer: Observer | None = None,
) -> IngestResult:
    workspace, options = workspace or Workspace(), options or BuildOptions()
    try:
        lines = results.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise GlancError(f"{results}: cannot read the results file ({exc.strerror})") from None
    out = IngestResult()
    with Store(workspace.store, on_wait=workspace.wait) as store:
        waves = [w for w in store.batches.open() if w.status == WRITTEN]
        owner: dict[str, str] = {}
        for name, requests in store.batches.requests(w.wave for w in waves).items():
            owner.update((r.key, name) for r in requests)  # oldest first: the latest wins
        filed: dict[str, dict[str, str]] = {}
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            key = custom_id(line)
            if key is None:
                out.unreadable.append(number)
            elif key not in owner:
                out.unknown += 1
            else:
                filed.setdefault(owner[key], {})[key] = line
        if not filed:
            raise GlancError(
                f"{results}: no line answers a request of a batch file this store is waiting "
                "on: give the results of a file glanc build --batch-file wrote, with the same "
                "--store"
            )
        paths = {w.wave: w.file for w in waves}
        for name, taken in filed.items():
            store.batches.put_results(name, taken)
            out.filed[paths[name]] = len(taken)
    out.build = build(taxonomy, workspace, replace(options, send=False), observer)
    return out

