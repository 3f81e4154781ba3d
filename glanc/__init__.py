"""glanc: a declarative dataset compiler for GLAN-style instruction-tuning data.

The library is the product; the ``glanc`` CLI is a thin layer over it, and a
library caller gets the CLI's defaults::

    from glanc import BuildOptions, Workspace, build, load_taxonomy, plan
    taxonomy = load_taxonomy("taxonomies/science.yaml")
    print(plan(taxonomy).as_json())
    result = build(taxonomy, Workspace(builds=Path("builds")), BuildOptions(model="stub"))
"""

from .options import BuildOptions, Workspace
from .specs.resolve import load_taxonomy
from .tasks.build import BuildResult, build
from .tasks.ingest import ingest
from .tasks.plan import plan
from .version import __version__

__all__ = [
    "BuildOptions",
    "BuildResult",
    "Workspace",
    "__version__",
    "build",
    "ingest",
    "load_taxonomy",
    "plan",
]
