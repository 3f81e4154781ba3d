"""What the quality layer costs: the same synthetic stub build with the layer on and
off (fresh stores both), its wall time and peak memory, and the gate's own time.

    python benchmarks/quality_cost.py --pairs 100000 --out benchmarks/results-quality.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import synthetic
import yaml

ROOT = Path(__file__).resolve().parents[1]


def build(spec: Path, work: Path, label: str) -> dict:
    cmd = ["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "glanc", "build", str(spec),
           "--no-lock", "-q", "--json", "--store", str(work / f"{label}.duckdb"),
           "--out", str(work / label)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall, peak_kb = done.stderr.strip().splitlines()[-1].split()
    summary = json.loads(done.stdout)
    return {
        "quality": label,
        "wall_s": float(wall),
        "peak_mib": round(int(peak_kb) / 1024),
        "rows": summary["rows"],
        "calls": summary["lm_calls"],
        "gate_s": summary.get("quality_seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    a = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="glanc-quality-") as tmp:
        work = Path(tmp)
        data = synthetic.spec(a.pairs)
        for label, quality in (("off", {"enabled": False}), ("on", {})):
            path = work / f"{label}.yaml"
            path.write_text(yaml.safe_dump({**data, "quality": quality}, sort_keys=False))
            results.append(build(path, work, label))
            print(json.dumps(results[-1]), flush=True)
    off, on = results
    share = on["gate_s"] / on["wall_s"] if on["gate_s"] else None
    print(json.dumps({"gate_share_of_build": round(share, 4) if share else None,
                      "wall_ratio_on_off": round(on["wall_s"] / off["wall_s"], 3)}))  # fmt: skip
    if a.out:
        a.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
