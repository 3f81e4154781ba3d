"""glanc: a declarative dataset compiler for GLAN-style instruction-tuning data.

The library is the product; the ``glanc`` CLI is a thin layer over it, and a
library caller gets the CLI's defaults::

    from glanc import BuildOptions, Workspace, build, load_taxonomy, plan
    taxonomy = load_taxonomy("taxonomies/science.yaml")
    print(plan(taxonomy).as_json())
    result = build(taxonomy, Workspace(builds=Path("builds")), BuildOptions(model="stub"))

Every command has its function: ``validate`` (validate_paths), ``check``,
``diff_datasets``, ``export``, ``write_report``, ``collect`` (gc), ``suggest``
and ``draft`` (suggest --new), ``show``, ``ingest``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .options import BuildOptions, Workspace
from .specs.resolve import load_taxonomy
from .tasks.plan import plan  # not lazy: the subpackage glanc.plan would stand in its place
from .version import __version__

if TYPE_CHECKING:
    from .artifact.diff import diff_datasets
    from .artifact.export import export
    from .artifact.report import write_report
    from .specs.validate import validate_paths
    from .tasks.build import BuildResult, build
    from .tasks.check import check
    from .tasks.gc import collect
    from .tasks.ingest import ingest
    from .tasks.show import show
    from .tasks.suggest import draft, suggest

# imported on first use (PEP 562): ``import glanc`` runs before every CLI command,
# and the build's modules (the quality gate, numpy) were a third of a
# ``glanc plan``'s imports, which never uses them
_LAZY = {
    "BuildResult": ".tasks.build",
    "build": ".tasks.build",
    "ingest": ".tasks.ingest",
    "check": ".tasks.check",
    "collect": ".tasks.gc",
    "diff_datasets": ".artifact.diff",
    "draft": ".tasks.suggest",
    "export": ".artifact.export",
    "show": ".tasks.show",
    "suggest": ".tasks.suggest",
    "validate_paths": ".specs.validate",
    "write_report": ".artifact.report",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'glanc' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "BuildOptions",
    "BuildResult",
    "Workspace",
    "__version__",
    "build",
    "check",
    "collect",
    "diff_datasets",
    "draft",
    "export",
    "ingest",
    "load_taxonomy",
    "plan",
    "show",
    "suggest",
    "validate_paths",
    "write_report",
]
