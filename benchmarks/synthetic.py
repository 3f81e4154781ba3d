"""A synthetic stub-model taxonomy of a given size, for the benchmarks.

The stub returns at most three items per array, so a discipline gets
``subject_samples * 3`` subjects before ``max_subjects`` caps them; pairs =
disciplines * subjects * questions_per_subject.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import yaml


def spec(pairs: int, *, subjects: int = 20, questions: int = 50, latency_ms: float = 0) -> dict:
    per_discipline = subjects * questions
    disciplines = max(1, math.ceil(pairs / per_discipline))
    fields = max(1, math.ceil(disciplines / 25))
    model = {"id": "stub", "latency_ms": latency_ms} if latency_ms else "stub"
    names = [f"Discipline {i:05d}" for i in range(disciplines)]
    return {
        "glanc": 1,
        "name": f"synthetic-{pairs}",
        "seed": 1,
        "settings": {
            "models": {"generator": model, "answerer": model},
            "subject_samples": math.ceil(subjects / 3),
            "subjects_per_sample": 3,
            "max_subjects": subjects,
            "questions_per_subject": questions,
        },
        "taxonomy": [
            {
                "name": f"Field {f:03d}",
                "children": [{"name": n} for n in names[f * 25 : (f + 1) * 25]],
            }
            for f in range(fields)
        ],
    }


def write(path: Path, pairs: int, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec(pairs, **kwargs), sort_keys=False))
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pairs", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=0)
    a = parser.parse_args()
    kwargs = {"subjects": a.subjects, "questions": a.questions, "latency_ms": a.latency_ms}
    path = write(a.out, a.pairs, **kwargs)
    print(path)
