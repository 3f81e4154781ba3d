"""Count and time a build's store lookups, at a chosen lookup batch size.

Why: without a key index on ``nodes`` each lookup of keys that may be stored
scans the key column, so a full walk's cost is its number of lookups times the
store's size. This wraps ``Store.get_many`` around one ``glanc build`` run and
prints, to stderr, how many lookups it made, of how many keys, and their time.

    python benchmarks/lookups.py --batch 4096 -- build s100000.yaml --store s.duckdb --out out -q
"""

from __future__ import annotations

import argparse
import atexit
import statistics
import sys
import time

import glanc.execute.scheduler as scheduler
from glanc.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=scheduler.LOOKUP_BATCH, help="keys a lookup")
    parser.add_argument("glanc", nargs=argparse.REMAINDER, help="the glanc command, after --")
    args = parser.parse_args()
    scheduler.LOOKUP_BATCH = args.batch
    sizes: list[int] = []
    spent = [0.0]
    get_many = Store.get_many

    def counted(self, keys, *a, **kw):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return get_many(self, keys, *a, **kw)
        finally:
            spent[0] += time.perf_counter() - start
            sizes.append(len(keys))

    Store.get_many = counted  # type: ignore[method-assign]
    atexit.register(
        lambda: print(
            f"batch {args.batch}: {len(sizes)} lookups of {sum(sizes)} keys "
            f"(median {statistics.median(sizes) if sizes else 0}), {spent[0]:.1f} s",
            file=sys.stderr,
        )
    )
    from glanc.cli import main as glanc_main

    rest = args.glanc[1:] if args.glanc[:1] == ["--"] else args.glanc
    sys.argv = ["glanc", *rest]
    glanc_main()


if __name__ == "__main__":
    main()
