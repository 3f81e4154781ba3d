"""How well each way of prompting works on a model: build one taxonomy once per
variant, with no redraws, and count the rows that pass every quality check at
their first draw.

Variants of taxonomies/science.yaml (the embedded model unless --model):
  json          the structured template (every stage JSON through a grammar)
  text          the plain-text default template, without decoding penalties
  text+penalty  the plain-text template with the spec's frequency penalties (as committed)

    python benchmarks/prompting.py taxonomies/science.yaml --out benchmarks/results-prompting.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def variants(spec: dict) -> dict[str, dict]:
    base = json.loads(json.dumps(spec))
    base.setdefault("quality", {})["redraws"] = 0
    out = {}
    structured = json.loads(json.dumps(base))
    structured["template"] = "json"
    out["json"] = structured
    plain = json.loads(json.dumps(base))
    for params in (plain.get("settings", {}).get("decoding") or {}).values():
        params.pop("frequency_penalty", None)
        params.pop("presence_penalty", None)
    out["text"] = plain
    out["text+penalty"] = base
    return out


def run(name: str, spec: dict, work: Path, model: str | None) -> dict:
    path = work / f"{name.replace('+', '_')}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    cmd = [sys.executable, "-m", "glanc", "build", str(path), "--no-lock", "-q", "--json",
           "--store", str(work / f"{path.stem}.duckdb"), "--out", str(work / "out")]  # fmt: skip
    if model:
        cmd += ["--model", model]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    summary = json.loads(done.stdout) if done.stdout.strip() else {}
    manifest = json.loads((work / "out" / spec["name"] / "manifest.json").read_text())
    quality = manifest.get("quality") or {}
    first = quality.get("first_draw", {})
    asked = first.get("rows", 0)
    rows = manifest["rows"]
    return {
        "variant": name,
        "rows_asked_and_drawn": asked,
        "rows_passed": rows,
        "first_draw_pass_rate": round(rows / asked, 3) if asked else None,
        "dropped": quality.get("dropped", {}),
        "calls": summary.get("lm_calls"),
        "failed_nodes": len(summary.get("failed", [])),
        # every call this build made (kept or dropped rows), per row drawn
        "input_tokens_per_row": round(summary["tokens"]["in"] / asked) if asked else None,
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--model", help="run every stage on this model instead of the spec's")
    parser.add_argument("--out", type=Path, help="write the results as JSON here too")
    a = parser.parse_args()
    spec = yaml.safe_load(a.spec.read_text())
    results = []
    with tempfile.TemporaryDirectory(prefix="glanc-prompting-") as tmp:
        for name, variant in variants(spec).items():
            results.append(run(name, variant, Path(tmp), a.model))
            print(json.dumps(results[-1]), flush=True)
    if a.out:
        a.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
