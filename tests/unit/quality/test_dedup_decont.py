"""Near-duplicates (MinHash LSH) and decontamination (containment, 13-grams)."""

import json
import random

from glanc.quality.decont import Index
from glanc.quality.dedup import NearDuplicates
from glanc.specs.types import Benchmark

ROWS = [
    ("a1", "What is the difference between a scalar and a vector quantity in physics?"),
    ("b2", "What is the difference between a scalar and a vector quantity in physics today?"),
    ("c3", "How does a transformer change the voltage of an alternating current?"),
    ("d4", "How does a transformer change the voltage of an alternating current?"),
    ("e5", "Why is the sky blue on a clear day?"),
]


def test_near_duplicates_keep_the_earliest_id_whatever_the_order():
    seen = set()
    for seed in range(5):
        rows = ROWS[:]
        random.Random(seed).shuffle(rows)
        dropped = NearDuplicates(0.8).round(rows)
        seen.add(json.dumps(dropped, sort_keys=True))
        assert set(dropped) == {"b2", "d4"}
        assert dropped["b2"][0] == "a1" and dropped["d4"] == ("c3", 1.0)
    assert len(seen) == 1


def test_rows_below_the_threshold_are_kept_and_later_rounds_meet_earlier_rows():
    dedup = NearDuplicates(0.95)
    assert dedup.round(ROWS[:2]) == {}  # Jaccard 0.9 < 0.95
    assert set(dedup.round([("z9", ROWS[0][1])])) == {"z9"}  # an exact copy of a kept row


def bench(tmp_path, name, rows):
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        path.write_text("\n".join(rows) + "\n")
    return path


def test_a_question_inside_a_longer_benchmark_item_is_caught(tmp_path):
    path = bench(tmp_path, "mmlu.jsonl", [
        {"question": "Which gas do plants take in? Why is the sky blue on a clear day? Explain."},
        {"question": "What is 2 + 2?"},
    ])
    index = Index((Benchmark(path),))
    match = index.match("Why is the sky blue on a clear day?")
    assert match.benchmark == "mmlu.jsonl" and match.item == 0
    assert "contains the question" in match.how
    assert index.match("Why is the sea blue?") is None


def test_a_paraphrase_sharing_a_13_gram_is_caught(tmp_path):
    item = ("A ball is thrown vertically upward with an initial speed of twenty metres per "
            "second from the top of a tower; find its maximum height.")
    path = bench(tmp_path, "physics.txt", ["unrelated line about chemistry", item])
    index = Index((Benchmark(path),))
    paraphrase = ("Suppose a ball is thrown vertically upward with an initial speed of twenty "
                  "metres per second from a cliff: how long is it in the air?")
    match = index.match(paraphrase)
    assert match.item == 1 and "13-word sequence" in match.how
    short_overlap = "A ball is thrown vertically upward with an initial speed of ten metres?"
    assert index.match(short_overlap) is None  # 12 shared words are not 13


def test_csv_and_parquet_benchmarks_read_their_question_column(tmp_path):
    import duckdb

    csv_path = tmp_path / "gsm.csv"
    csv_path.write_text("id,problem\n1,How many apples are left if Tom eats three of five?\n")
    parquet = tmp_path / "arc.parquet"
    duckdb.sql("SELECT 'Which planet is closest to the sun?' AS prompt").write_parquet(str(parquet))
    index = Index((Benchmark(csv_path), Benchmark(parquet)))
    assert index.match("How many apples are left if Tom eats three of five?").benchmark == "gsm.csv"
    assert index.match("Which planet is closest to the sun?").benchmark == "arc.parquet"
