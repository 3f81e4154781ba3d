"""glanc's benchmark suite: its own cost next to the model's, on synthetic taxonomies.

Not part of the test run. Each measure prints one JSON object; ``all`` runs them
in order and writes ``benchmarks/results.json``. BENCHMARKS.md quotes the
results with the command that produced them. Run from the repository root:

    .venv/bin/python benchmarks/bench.py all --pairs 100000

Timings are wall-clock on a shared machine: repeated measures report the
median of ``--repeat`` runs; the large builds run once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import synthetic  # noqa: E402

GLANC = [sys.executable, "-m", "glanc"]


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_glanc(*args: str) -> tuple[float, int, dict | None, str]:
    """Run the CLI in a child process: (wall seconds, peak RSS in MiB, --json output, stderr)."""
    cmd = ["/usr/bin/time", "-f", "%M", *GLANC, *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    lines = proc.stderr.strip().splitlines()
    rss = int(lines[-1]) // 1024 if lines and lines[-1].isdigit() else -1
    if proc.returncode not in (0, 1):
        raise SystemExit(f"glanc {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    data = None
    if "--json" in args:
        data = json.loads(proc.stdout)
    return wall, rss, data, proc.stderr


# -- overhead: glanc build vs the same DSPy calls in a loop ---------------------------
def dspy_floor(store: Path, spec: Path, adapter: str = "dspy") -> dict:
    """Replay every node a build made, with the same programs, inputs, seeds and
    stub, as plain ``dspy.Predict`` calls in a loop: the floor glanc stands on.
    Its time is the loop plus importing DSPy (a build's time includes both); not
    reading the inputs back. ``adapter="glanc"`` formats with glanc's
    memoising JSONAdapter (the same messages, computed once per signature)
    instead of DSPy's own, to separate glanc's overhead from that saving."""
    started = time.perf_counter()
    import dspy  # timed: a glanc build pays for this import too

    imported = time.perf_counter() - started
    import duckdb

    from glanc.lm import programs
    from glanc.lm.engines import make_lm
    from glanc.recipe.graph import Graph
    from glanc.specs.resolve import load_taxonomy

    taxonomy = load_taxonomy(spec)
    graph = Graph(taxonomy)
    info = graph.model(taxonomy.disciplines[0], "answer")[0]
    lm = make_lm(info)
    con = duckdb.connect(str(store), read_only=True)
    rows = con.execute("SELECT stage, key, inputs FROM nodes ORDER BY created_at").fetchall()
    con.close()
    per_stage: dict[str, list[float]] = {}
    signatures = {s: programs.signature(taxonomy.template.stage(s)) for s, *_ in rows}
    settings = taxonomy.disciplines[0].settings
    decoding = {
        s: {**dict(taxonomy.template.stage(s).decoding), **settings.decoding_for(s)}
        for s in signatures
    }
    start = time.perf_counter()
    chosen = programs.adapter() if adapter == "glanc" else dspy.JSONAdapter()
    with dspy.context(lm=lm, adapter=chosen, disable_history=True):
        for stage, key, inputs in rows:
            t = time.perf_counter()
            config = {**decoding[stage], "seed": int(key[:8], 16) % (2**31)}
            dspy.Predict(signatures[stage])(**json.loads(inputs), config=config)
            per_stage.setdefault(stage, []).append(time.perf_counter() - t)
    total = time.perf_counter() - start + imported
    return {
        "calls": len(rows),
        "seconds": total,
        "dspy_import_s": imported,
        "per_stage_calls_per_s": {s: len(v) / sum(v) for s, v in per_stage.items()},
    }


def overhead(pairs: int, repeat: int, concurrency: int, adapter: str = "dspy") -> dict:
    """glanc build time / the same DSPy calls made directly in a loop (median of runs)."""
    work = Path(tempfile.mkdtemp(prefix="glanc-bench-"))
    spec = synthetic.write(work / "spec.yaml", pairs, subjects=10, questions=20)
    builds, floors = [], []
    for i in range(repeat):
        store = work / f"store{i}.duckdb"
        wall, _, data, _ = run_glanc(
            "build", str(spec), "--store", str(store), "--out", str(work / f"out{i}"),
            "--json", "-q", "--concurrency", str(concurrency),
        )  # fmt: skip
        builds.append(data["seconds"])
        code = (
            "import json, sys; sys.path.insert(0, sys.argv[1]); import bench; "
            "print(json.dumps(bench.dspy_floor(*map(__import__('pathlib').Path, sys.argv[2:4]), "
            "sys.argv[4])))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(HERE), str(store), str(spec), adapter],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        floors.append(json.loads(out.stdout.strip().splitlines()[-1]))
    calls = floors[0]["calls"]
    build_s = statistics.median(builds)
    floor_s = statistics.median(f["seconds"] for f in floors)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "measure": "overhead",
        "floor_adapter": adapter,
        "pairs": pairs,
        "calls": calls,
        "concurrency": concurrency,
        "runs": repeat,
        "glanc_build_s": round(build_s, 2),
        "dspy_loop_s": round(floor_s, 2),
        "ratio": round(build_s / floor_s, 3),
        "glanc_calls_per_s": round(calls / build_s, 1),
        "dspy_calls_per_s": round(calls / floor_s, 1),
        "dspy_per_stage_calls_per_s": {
            s: round(statistics.median(f["per_stage_calls_per_s"][s] for f in floors), 1)
            for s in floors[0]["per_stage_calls_per_s"]
        },
    }


def stages(pairs: int, repeat: int, concurrency: int, floor: dict[str, float]) -> dict:
    """glanc's calls/s per stage, next to DSPy's floor for that stage.

    Stages run one after another on one store (``--select stage:X``: the stages
    above are cached by then), so each build's rate is one stage's. A build
    also pays fixed costs (DSPy's import, reading the spec, writing the
    dataset): measured as a rebuild with everything cached into a fresh
    output directory, and reported both in and out of the rate.
    """
    work = Path(tempfile.mkdtemp(prefix="glanc-bench-"))
    spec = synthetic.write(work / "spec.yaml", pairs, subjects=10, questions=20)
    runs: dict[str, list[tuple[int, float]]] = {}
    fixed = []
    for i in range(repeat):
        store = work / f"stages{i}.duckdb"
        for stage in ("subjects", "syllabus", "question", "answer"):
            _, _, data, _ = run_glanc(
                "build", str(spec), "--store", str(store), "--out", str(work / f"o{i}"),
                "--json", "-q", "--concurrency", str(concurrency), "--select", f"stage:{stage}",
            )  # fmt: skip
            runs.setdefault(stage, []).append((data["stages"][stage]["run"], data["seconds"]))
        _, _, data, _ = run_glanc(
            "build", str(spec), "--store", str(store), "--out", str(work / f"cached{i}"),
            "--json", "-q", "--concurrency", str(concurrency),
        )  # fmt: skip
        assert data["lm_calls"] == 0
        fixed.append(data["seconds"])
    shutil.rmtree(work, ignore_errors=True)
    fixed_s = statistics.median(fixed)
    out = {}
    for stage, rs in runs.items():
        calls = rs[0][0]
        seconds = statistics.median(t for _, t in rs)
        with_fixed = calls / seconds
        without = calls / max(seconds - fixed_s, 1e-9)
        out[stage] = {
            "calls": calls,
            "seconds": round(seconds, 2),
            "glanc_calls_per_s": round(with_fixed, 1),
            "glanc_calls_per_s_less_fixed": round(without, 1),
            "dspy_calls_per_s": floor.get(stage),
            "floor_over_glanc": round(floor[stage] / without, 3) if stage in floor else None,
        }
    return {"measure": "stages", "pairs": pairs, "concurrency": concurrency, "runs": repeat,
            "fixed_s": round(fixed_s, 2), "stages": out}  # fmt: skip


# -- large builds: throughput, no-op, memory, store size, diff -------------------------
def big_build(pairs: int, work: Path, concurrency: int) -> dict:
    spec = synthetic.write(work / f"s{pairs}.yaml", pairs)
    store, out = work / f"s{pairs}.duckdb", work / "out"
    wall, rss, data, _ = run_glanc(
        "build", str(spec), "--store", str(store), "--out", str(out), "--json", "-q",
        "--concurrency", str(concurrency),
    )  # fmt: skip
    nodes = sum(v["run"] for v in data["stages"].values())
    build_dir = out / f"synthetic-{pairs}"
    return {
        "measure": "build",
        "pairs": pairs,
        "rows": data["rows"],
        "nodes": nodes,
        "lm_calls": data["lm_calls"],
        "seconds": round(data["seconds"], 1),
        "wall_s": round(wall, 1),
        "nodes_per_s": round(nodes / data["seconds"], 1),
        "peak_rss_mib": rss,
        "store_mib": round(store.stat().st_size / 2**20, 1),
        "lock_mib": round(_size(build_dir / "lock") / 2**20, 1),
        "dataset_mib": round(_size(build_dir / "data") / 2**20, 1),
        "largest_file_mib": round(max(p.stat().st_size for p in build_dir.rglob("*.*")) / 2**20, 2),
        "spec": str(spec),
        "store": str(store),
        "out": str(out),
    }


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.jsonl"))


def noop(built: dict, repeat: int) -> dict:
    args = ["build", built["spec"], "--store", built["store"], "--out", built["out"]]
    args += ["--json", "-q"]
    fast, walked, calls = [], [], []
    dataset = min((Path(built["out"]) / f"synthetic-{built['pairs']}" / "data").rglob("*.jsonl"))
    for _ in range(repeat):
        wall, rss, data, _ = run_glanc(*args)
        assert data["up_to_date"], data
        fast.append((wall, rss))
        calls.append(data["lm_calls"])
    for _ in range(repeat):
        os.utime(dataset)  # the build's own file changed: walk every node, call none
        wall, rss, data, _ = run_glanc(*args)
        assert not data["up_to_date"], data
        walked.append((wall, rss))
        calls.append(data["lm_calls"])
    return {
        "measure": "noop",
        "pairs": built["pairs"],
        "runs": repeat,
        "lm_calls": max(calls),
        "up_to_date_s": round(statistics.median(w for w, _ in fast), 2),
        "full_walk_s": round(statistics.median(w for w, _ in walked), 2),
        "full_walk_rss_mib": max(r for _, r in walked),
    }


def diff(built: dict, repeat: int) -> dict:
    """glanc diff of the build's dataset against a mutated copy (5% removed, 5% added
    as copies under new ids, 10% with a changed answer)."""
    build_dir = Path(built["out"]) / f"synthetic-{built['pairs']}"
    src = build_dir.parent / "dataset.jsonl"  # every row in one file, by id
    run_glanc("export", str(build_dir), "--format", "jsonl", "-o", str(src), "--force")
    other = src.parent / "mutated.jsonl"
    with src.open() as f, other.open("w") as g:
        for i, line in enumerate(f):
            row = json.loads(line)
            if i % 20 == 0:
                continue
            if i % 20 == 1:
                g.write(json.dumps({**row, "id": "new" + row["id"][3:]}, sort_keys=True) + "\n")
            if i % 10 == 2:
                row["messages"][1]["content"] += " (revised)"
            g.write(json.dumps(row, sort_keys=True) + "\n")
    times = []
    for _ in range(repeat):
        wall, rss, _, _ = run_glanc("diff", str(src), str(other), "--format", "markdown")
        times.append((wall, rss))
    return {
        "measure": "diff",
        "rows": built["rows"],
        "runs": repeat,
        "seconds": round(statistics.median(t for t, _ in times), 2),
        "peak_rss_mib": max(r for _, r in times),
    }


def plan_glan(repeat: int, pairs: int = 10_000_000) -> list[dict]:
    """``glanc plan`` on an empty store of the GLAN taxonomy and of a synthetic
    ``pairs``-pair one (10,000 disciplines at 10M): what a user planning a
    GLAN-scale build waits for."""
    from glanc.specs.resolve import load_taxonomy

    work = Path(tempfile.mkdtemp(prefix="glanc-bench-"))
    big = synthetic.write(work / f"synthetic-{pairs}.yaml", pairs)
    out = []
    for name, spec in (("plan_glan", ROOT / "taxonomies" / "glan.yaml"), ("plan_synthetic", big)):
        times = []
        data = None
        for _ in range(repeat):
            start = time.perf_counter()
            proc = subprocess.run(
                [*GLANC, "plan", str(spec), "--store", str(work / "none.duckdb"), "--json"],
                capture_output=True, text=True, cwd=ROOT, check=True,
            )  # fmt: skip
            times.append(time.perf_counter() - start)
            data = json.loads(proc.stdout)
        taxonomy = load_taxonomy(spec)
        out.append({
            "measure": name,
            "runs": repeat,
            "seconds": round(statistics.median(times), 2),
            "lm_calls": data["lm_calls"],
            "disciplines": len(taxonomy.disciplines),
            "question_nodes": sum(data["stages"]["question"].get(k, 0) for k in ("run", "estimated")),  # noqa: E501
        })  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("measure", choices=("all", "overhead", "scale", "plan"))
    parser.add_argument(
        "--floor-adapter", choices=("dspy", "glanc"), default="dspy",
        help="the loop's adapter: DSPy's JSONAdapter, or glanc's memoising one",
    )  # fmt: skip
    parser.add_argument("--pairs", type=int, default=100_000, help="size of the large build")
    parser.add_argument("--small", type=int, default=10_000, help="size of the memory baseline")
    parser.add_argument("--overhead-pairs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--results", type=Path, default=HERE / "results.json")
    a = parser.parse_args()
    results = {"machine": machine(), "argv": sys.argv[1:]}
    if a.measure in ("all", "overhead"):
        for c in (1, a.concurrency):
            results[f"overhead_c{c}"] = overhead(a.overhead_pairs, a.repeat, c, a.floor_adapter)
            print(json.dumps(results[f"overhead_c{c}"]), flush=True)
    if a.measure in ("all", "overhead"):
        floor = results[f"overhead_c{a.concurrency}"]["dspy_per_stage_calls_per_s"]
        results["stages"] = stages(a.overhead_pairs, a.repeat, a.concurrency, floor)
        print(json.dumps(results["stages"]), flush=True)
    if a.measure in ("all", "plan"):
        results["plan_glan"] = plan_glan(a.repeat)
        print(json.dumps(results["plan_glan"]), flush=True)
    if a.measure in ("all", "scale"):
        work = Path(tempfile.mkdtemp(prefix="glanc-bench-"))
        try:
            for pairs in (a.small, a.pairs):
                built = big_build(pairs, work, a.concurrency)
                results[f"build_{pairs}"] = built
                print(json.dumps(built), flush=True)
            results["noop"] = noop(built, a.repeat)
            print(json.dumps(results["noop"]), flush=True)
            results["diff"] = diff(built, a.repeat)
            print(json.dumps(results["diff"]), flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    a.results.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
