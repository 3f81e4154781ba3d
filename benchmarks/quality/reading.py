"""A blind reading of a build's rows against glanc's checks (issue 38).

    python benchmarks/quality/reading.py figures BUILD_DIR
        per discipline: rows drawn first, the share passing every check at that
        draw, what dropped them, what the stage checks left out
    python benchmarks/quality/reading.py sample BUILD_DIR OUT --rows 60 [--seed 1]
        OUT/sample.md: rows drawn at random from the kept rows and the dropped
        first draws, shuffled, numbered, without their verdicts (for the reader);
        OUT/key.json: each number's verdict (kept, or the check that dropped it)
    python benchmarks/quality/reading.py score OUT
        reads OUT/marks.txt (a line per row: its number, then u for usable or
        n for not, then a few words why) and compares it with OUT/key.json:
        agreement, false keeps (kept, read as not usable), false drops (dropped,
        read as usable)

The reader marks each row from the question and answer alone, as a person
deciding whether the pair is worth training on: the question is a real,
self-contained homework question on its discipline, and the answer answers it
without obvious errors.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path


def lines(folder: Path) -> list[dict]:
    out = []
    for path in sorted(folder.rglob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines()]
    return out


def figures(build: Path) -> None:
    rows = lines(build / "data")
    dropped = lines(build / "dropped") if (build / "dropped").exists() else []
    by: dict[str, Counter] = {}
    for r in rows:
        c = by.setdefault(r["discipline"], Counter())
        c["rows"] += 1
    for d in dropped:
        c = by.setdefault(d["discipline"], Counter())
        c["dropped:" + d["dropped"]["check"]] += 1
        c["dropped first draws"] += d["dropped"]["draw"] == 0
    shares = {}
    for path in sorted((build / "shares").rglob("*.json")):
        share = json.loads(path.read_text())
        shares[share["discipline"][-1]] = share
    print(
        "| discipline | rows | first draws | passed every check | dropped by "
        "| stage checks left out |"
    )
    print("| --- | ---: | ---: | ---: | --- | --- |")
    total_first = total_passed = 0
    for name in sorted(by):
        q = (shares.get(name) or {}).get("quality") or {}
        first = q.get("first_draw") or {"rows": 0, "passed": 0}
        total_first += first["rows"]
        total_passed += first["passed"]
        drops = ", ".join(
            f"{k[8:]} {v}" for k, v in sorted(by[name].items()) if k.startswith("dropped:")
        )
        vetoed = Counter(v["check"] for v in q.get("vetoed") or ())
        share = f"{first['passed'] / first['rows']:.0%}" if first["rows"] else "-"
        print(
            f"| {name} | {by[name]['rows']} | {first['rows']} | {first['passed']} ({share}) | "
            f"{drops or '-'} | {', '.join(f'{k} {v}' for k, v in sorted(vetoed.items())) or '-'} |"
        )
    if total_first:
        print(
            f"\nall: {total_passed} of {total_first} first draws passed every check "
            f"({total_passed / total_first:.1%})"
        )


def sample(build: Path, out: Path, n: int, seed: int) -> None:
    kept = [(r, "kept") for r in lines(build / "data")]
    dropped = lines(build / "dropped") if (build / "dropped").exists() else []
    firsts = [(d, d["dropped"]["check"]) for d in dropped if d["dropped"]["draw"] == 0]
    pool = kept + firsts
    random.Random(seed).shuffle(pool)
    chosen = pool[:n]
    out.mkdir(parents=True, exist_ok=True)
    text, key = [], {}
    for i, (row, verdict) in enumerate(chosen, 1):
        q, a = row["messages"][0]["content"], row["messages"][-1]["content"]
        text += [
            f"## {i}. {row['discipline']} / {row['subject']}",
            "",
            f"Q: {q}",
            "",
            f"A: {a}",
            "",
        ]
        key[str(i)] = {"verdict": verdict, "id": row["id"], "discipline": row["discipline"]}
    (out / "sample.md").write_text("\n".join(text))
    (out / "key.json").write_text(json.dumps(key, indent=1))
    print(f"{len(chosen)} rows ({sum(v == 'kept' for _, v in chosen)} kept) -> {out}/sample.md")


def score(out: Path) -> None:
    key = json.loads((out / "key.json").read_text())
    marks = {}
    for line in (out / "marks.txt").read_text().splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) >= 2 and parts[0].isdigit():
            marks[parts[0]] = parts[1].lower().startswith("u")
    agree = false_keep = false_drop = kept = dropped = usable = 0
    for number, k in key.items():
        if number not in marks:
            continue
        is_kept = k["verdict"] == "kept"
        kept += is_kept
        dropped += not is_kept
        usable += marks[number]
        if is_kept == marks[number]:
            agree += 1
        elif is_kept:
            false_keep += 1
        else:
            false_drop += 1
    read = kept + dropped
    print(
        f"read {read} rows: {kept} kept by the checks, {dropped} dropped; {usable} read as usable"
    )
    print(f"agreement: {agree} of {read} ({agree / read:.1%})")
    print(
        f"false keeps: {false_keep} of {kept} kept ({false_keep / max(kept, 1):.1%}); "
        f"false drops: {false_drop} of {dropped} dropped ({false_drop / max(dropped, 1):.1%})"
    )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="what", required=True)
    f = sub.add_parser("figures")
    f.add_argument("build", type=Path)
    s = sub.add_parser("sample")
    s.add_argument("build", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--rows", type=int, default=60)
    s.add_argument("--seed", type=int, default=1)
    c = sub.add_parser("score")
    c.add_argument("out", type=Path)
    args = p.parse_args()
    if args.what == "figures":
        figures(args.build)
    elif args.what == "sample":
        sample(args.build, args.out, args.rows, args.seed)
    else:
        score(args.out)


if __name__ == "__main__":
    main()
