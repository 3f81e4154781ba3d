"""The row spool keeps rows in tables by id range and sorts one at a time: what
comes out is still every row by (id, line), for hex ids and any others."""

import json
import random

from glanc.store.spool import RowSpool

ODD_IDS = ["", "\x00", "0", "00", "0f", "1", "9", "9z", ":", "A", "Z", "_", "a", "f", "ff",
           "g", "z", "é", "中"]  # fmt: skip


def row(rid: str, n: int) -> dict:
    return {"id": rid, "taxonomy_path": ["F", f"D{n % 3}"], "level": "l", "difficulty": "d", "n": n,
            "subject": "S", "key_concepts": ["k"]}


def test_rows_come_out_by_id_then_line_across_its_tables():
    rng = random.Random(5)
    ids = ODD_IDS + [f"{rng.getrandbits(64):016x}" for _ in range(2000)]
    ids += ids[:40]  # the same id on two rows: their lines decide
    rng.shuffle(ids)
    with RowSpool() as spool:
        rows = [row(rid, n) for n, rid in enumerate(ids)]
        for r in rows:
            spool.add(r)
        lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in rows]
        # DuckDB orders strings by their UTF-8 bytes
        want = sorted(lines, key=lambda x: (json.loads(x)["id"].encode(), x.encode()))
        taken = spool.take(["9z", "中", "0", ids[7]])
        assert [t["id"] for t in taken] == sorted(
            [r["id"] for r in rows if r["id"] in {"9z", "中", "0", ids[7]}], key=str.encode
        )
        gone = {json.dumps(t, ensure_ascii=False, sort_keys=True) for t in taken}
        assert spool.count == len(rows) - len(taken)
        assert list(spool.sorted_lines()) == [x + "\n" for x in want if x not in gone]
        assert sum(n for _, n in spool.counts("discipline")) == spool.count


def test_concepts_by_subject_counts_rows_and_distinct_concepts_per_subject():
    """Each subject's rows, and the distinct key concepts they ask about; a row with
    none still counts as a row and adds no concept."""
    concepts = {"a": ["k1", "k2"], "b": ["k2"], "c": [], "d": ["k9"]}
    subjects = {"a": "S", "b": "S", "c": "S", "d": "T"}
    with RowSpool() as spool:
        for rid in concepts:
            spool.add({**row(rid, 0), "subject": subjects[rid], "key_concepts": concepts[rid]})
        by_subject = spool.concepts_by_subject()
    assert by_subject == {"f/d0": {"S": (3, 2), "T": (1, 1)}}
