"""glanc's own cost per call on the Batch API route, against direct calls: the
same build through a local fake OpenAI server (chat and batches, no latency),
once on threads and once with --backend batch. Run from the repository root:

    .venv/bin/python benchmarks/batch.py --questions 100 --repeat 3

For each run: wall time, the glanc process's CPU (user + system, the fake
server's not counted), calls, and CPU per call. The batch route renders every
request through the same DSPy program and parses every reply the same way, so
its CPU per call is the figure to compare; its wall time also holds the status
checks' waits (``poll_s`` 0.02 here; 5 s by default against a real provider).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from concurrency import free_port  # the benchmark beside this one, same folder

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "tests" / "servers" / "fake_openai.py"


def spec(path: Path, base: str, questions: int) -> Path:
    model = {"id": "openai/fake-model", "api_base": base, "timeout": 30,
             "batch": {"poll_s": 0.02, "poll_max_s": 0.05}}  # fmt: skip
    path.write_text(yaml.safe_dump({
        "glanc": 1, "name": "batchbench", "seed": 1, "template": "json",
        "quality": {"enabled": False},
        "settings": {"models": {"generator": model, "answerer": model},
                     "questions_per_subject": questions},
        "taxonomy": [{"name": "Bench", "children": [
            {"name": "Physics", "subjects": [{"name": "Mechanics"}, {"name": "Optics"}]}]}],
    }))  # fmt: skip
    return path


def run(path: Path, work: Path, backend: str) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "glanc", "build", str(path), "--json", "-q", "--backend", backend,
         "--concurrency", "32", "--store", str(work / "c.duckdb"), "--out", str(work / "b")],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    calls = json.loads(out.stdout)["lm_calls"]
    shards = sorted((work / "b" / "batchbench" / "data").rglob("*.jsonl"))
    digest = b"".join(p.read_bytes() for p in shards)
    return {"wall_s": wall, "cpu_s": cpu, "calls": calls, "cpu_ms_per_call": cpu / calls * 1000,
            "dataset": hash(digest)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=100, help="questions per subject")
    parser.add_argument("--repeat", type=int, default=3)
    a = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, str(SERVER), "--port", str(port)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    server.stdout.readline()
    time.sleep(0.5)
    tmp = Path(tempfile.mkdtemp(prefix="glanc-batchbench-"))
    try:
        path = spec(tmp / "spec.yaml", f"http://127.0.0.1:{port}/v1", a.questions)
        results: dict[str, list[dict]] = {"threads": [], "batch": []}
        for _ in range(a.repeat):  # interleaved, so drift on a shared machine hits both
            for backend in results:
                results[backend].append(run(path, tmp / backend, backend))
        same = len({r["dataset"] for rs in results.values() for r in rs}) == 1
        summary = {"questions_per_subject": a.questions, "repeat": a.repeat,
                   "same_dataset": same, "cpus": os.cpu_count()}  # fmt: skip
        for backend, rs in results.items():
            summary[backend] = {
                k: round(statistics.median(r[k] for r in rs), 4)
                for k in ("wall_s", "cpu_s", "calls", "cpu_ms_per_call")
            }
        summary["cpu_per_call_ratio"] = round(
            summary["batch"]["cpu_ms_per_call"] / summary["threads"]["cpu_ms_per_call"], 3)
        print(json.dumps(summary, indent=2))
    finally:
        server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
