"""The coverage query's cost at scale (issue 38): 1M spooled rows of 1,000
disciplines (20 subjects each, 50 rows a subject, 3 key concepts a row out of 40
a subject, named as the stub names them), then ``RowSpool.counts_by_shard`` (what
a build already ran) and ``RowSpool.concepts_by_subject`` (what coverage adds),
timed once each.

    python benchmarks/coverage_query.py [ROWS]
"""

import sys
import time

from glanc.store.spool import RowSpool

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
with RowSpool() as spool:
    start = time.perf_counter()
    for i in range(n):
        d, s = i // 1000, (i // 50) % 20
        concepts = [f"Stub-{(d * 977 + s * 41 + k) % 16**6:06x} Concept {k}"
                    for k in ((i + 7 * j) % 40 for j in range(3))]  # fmt: skip
        spool.add({"id": f"{(i * 2654435761) % (1 << 64):016x}",
                   "taxonomy_path": [f"F{d % 40}", f"D{d}"], "level": "l", "difficulty": "basic",
                   "subject": f"Stub-{(d * 31 + s) % 16**6:06x} Subject Taught {s}",
                   "key_concepts": concepts,
                   "messages": [{"content": "q" * 100}, {"content": "a" * 300}]})  # fmt: skip
    added = time.perf_counter() - start
    start = time.perf_counter()
    spool.counts_by_shard()
    counts = time.perf_counter() - start
    start = time.perf_counter()
    spool.concepts_by_subject()
    concepts = time.perf_counter() - start
print(f"{n:,} rows: add {added:.1f} s, counts_by_shard {counts:.2f} s, "
      f"concepts_by_subject {concepts:.2f} s")
