"""Remote-model throughput: calls/s at several concurrencies against a local
OpenAI-compatible server that answers schema-valid JSON after a fixed latency,
next to the ideal (concurrency / latency). Run from the repository root:

    .venv/bin/python benchmarks/concurrency.py --latency-ms 100 --levels 1 8 32 64

Two rates per run: ``build`` is the build's calls over its whole wall time
(process start, imports, the first serial syllabus call and the ramp down
included); ``steady`` is the server's answers per second between the 10th and
90th percentile of their times, the rate a long build runs at.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVER = ROOT / "tests" / "servers" / "fake_openai.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spec(path: Path, base: str, questions: int) -> Path:
    model = {"id": "openai/fake-model", "api_base": base, "api_key": "env:GLANC_BENCH_KEY"}
    path.write_text(
        yaml.safe_dump(
            {
                "glanc": 1,
                "name": "concurrency",
                "seed": 1,
                "settings": {
                    "models": {"generator": model, "answerer": model},
                    "questions_per_subject": questions,
                },
                "taxonomy": [
                    {
                        "name": "Bench",
                        "children": [
                            {"name": "Physics", "subjects": [{"name": "Mechanics"}]},
                        ],
                    }
                ],
            }
        )
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--seconds", type=float, default=10, help="target length of each run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--questions", type=int, help="a fixed workload instead of --seconds")
    parser.add_argument("--build-args", default="", help="more glanc build arguments")
    parser.add_argument("--results", type=Path, default=HERE / "concurrency.json",
                        help="where the rows go (the default is what BENCHMARKS.md quotes)")
    a = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", str(port), "--latency-ms", str(a.latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    server.stdout.readline()
    time.sleep(0.5)
    base = f"http://127.0.0.1:{port}/v1"
    latency = a.latency_ms / 1000
    rows = []
    try:
        for level in a.levels:
            ideal = level / latency
            # one syllabus call, then questions and answers: about 2 calls a question
            questions = a.questions or max(10, int(ideal * a.seconds / 2))
            rates, steady, cpus = [], [], []
            for _ in range(a.repeat):
                urllib.request.urlopen(base.replace("/v1", "/times")).read()  # reset
                work = Path(tempfile.mkdtemp(prefix="glanc-conc-"))
                path = spec(work / "spec.yaml", base, questions)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                proc = subprocess.run(
                    [sys.executable, "-m", "glanc", "build", str(path), "--store",
                     str(work / "s.duckdb"), "--out", str(work / "out"), "--json", "-q",
                     "--concurrency", str(level), *a.build_args.split()],
                    capture_output=True, text=True, cwd=ROOT,
                    env={**__import__("os").environ, "GLANC_BENCH_KEY": "bench"},
                )  # fmt: skip
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
                shutil.rmtree(work, ignore_errors=True)
                if proc.returncode != 0:
                    raise SystemExit(proc.stderr)
                data = json.loads(proc.stdout)
                rates.append(data["lm_calls"] / data["seconds"])
                cpus.append(cpu * 1000 / data["lm_calls"])
                with urllib.request.urlopen(base.replace("/v1", "/times")) as reply:
                    times = sorted(json.loads(reply.read()))
                lo, hi = int(len(times) * 0.1), int(len(times) * 0.9)
                steady.append((hi - lo) / (times[hi] - times[lo]))
            rate = statistics.median(rates)
            steady_rate = statistics.median(steady)
            row = {
                "concurrency": level,
                "latency_ms": a.latency_ms,
                "calls": data["lm_calls"],
                "build_calls_per_s": round(rate, 1),
                "steady_calls_per_s": round(steady_rate, 1),
                "ideal_calls_per_s": round(ideal, 1),
                "cpu_ms_per_call": round(statistics.median(cpus), 2),
                "build_share_of_ideal": round(rate / ideal, 3),
                "steady_share_of_ideal": round(steady_rate / ideal, 3),
                "runs": a.repeat,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        server.kill()
    a.results.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
