"""glanc: a declarative dataset compiler for GLAN-style instruction-tuning data.

The library is the product; the ``glanc`` CLI is a thin layer over it::

    from glanc import load_taxonomy, build
    taxonomy = load_taxonomy("taxonomies/science.yaml")
    result = build(taxonomy, store_path=Path(".glanc/cache.duckdb"), out_dir=Path("builds"))
"""

__version__ = "0.1.0"

from .resolve import load_taxonomy  # noqa: E402
from .run import BuildResult, build  # noqa: E402

__all__ = ["BuildResult", "__version__", "build", "load_taxonomy"]
