"""``manifest.json``: what a build used, counted, as the same bytes on every rebuild.

Counts of nodes by stage and outcome, the tokens every node the dataset uses
was recorded with (cached or not), and the models per stage: nothing that
depends on this run's timing or cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..execute.tally import Tally
from ..options import MANIFEST
from ..specs.types import Taxonomy
from ..version import __version__


def manifest(
    taxonomy: Taxonomy, tally: Tally, rows: int, quality: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``quality``: what the quality gate dropped, and why (absent when it is off)."""
    stats = tally.stages()
    tokens = tally.dataset.grand_total()
    out = {
        "glanc_version": __version__,
        "taxonomy": taxonomy.name,
        "spec_digest": taxonomy.digest,
        "template": taxonomy.template.name,
        "rows": rows,
        "counts": {
            "disciplines": len(taxonomy.disciplines),
            "nodes": {s: st.run + st.cached for s, st in stats.items()},
            "failed": {s: st.failed for s, st in stats.items()},
            "skipped": {s: st.skipped for s, st in stats.items()},
        },
        # a quota left short (every redraw of a row dropped) is no complete dataset either
        "complete": not tally.failures
        and not any(st.skipped for st in stats.values())
        and not (quality or {}).get("short"),
        "tokens": {"in": tokens.tokens_in, "out": tokens.tokens_out},
        "usage": tally.dataset.as_json(calls="nodes"),
        "models": {s: sorted(m) for s, m in tally.models_by_stage.items()},
    }
    if quality is not None:
        out["quality"] = quality
    return out


def decoding(tally: Tally) -> dict[str, list[dict[str, Any]]]:
    """Each stage's distinct decoding settings, in the order of their digests (the card's)."""
    return {s: [d for _, d in sorted(ds.items())] for s, ds in tally.decoding_by_stage.items()}


# a manifest lists every file and every discipline's quota and coverage: about 500 bytes a
# discipline, 506 KB at 1M stub pairs (1,000 disciplines), 5 MB at 10M. It is read bounded
# (it may come from a pull request), at the size no artifact file passes: at 1 MiB, a
# 2,100-discipline build's manifest read as none, and every build walked every discipline
MAX_BYTES = 50 << 20


def read(build_dir: Path) -> dict[str, Any] | None:
    """A build directory's manifest, or None when it has none that parses (read
    bounded: the file may come from a pull request)."""
    try:
        with open(build_dir / MANIFEST, "rb") as f:
            value = json.loads(f.read(MAX_BYTES + 1)[: MAX_BYTES + 1])
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def model_labels(manifest: dict[str, Any]) -> list[str]:
    """Every model label the manifest's build used, stub ones included."""
    models = manifest.get("models")
    if not isinstance(models, dict):
        return []
    return sorted({str(m) for ms in models.values() if isinstance(ms, list) for m in ms})


def is_stub(label: str) -> bool:
    return label == "stub" or label.startswith("stub:")
