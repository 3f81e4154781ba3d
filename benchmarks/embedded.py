"""Embedded model: tokens/s of a glanc build vs llama-cpp-python called directly.

Builds a taxonomy on the embedded GGUF model in-process, recording every
request glanc's engine hands llama.cpp (messages and sampling arguments, seeds
included), then replays exactly those requests on a fresh ``llama_cpp.Llama``
in a plain loop. Both timings include loading the model; each side runs in a
fresh process, as a ``glanc build`` does. Run from the repository root:

    .venv/bin/python benchmarks/embedded.py taxonomies/science.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def glanc_build(spec: Path, work: Path) -> tuple[dict, list[tuple[list, dict]], float]:
    import llama_cpp

    from glanc import BuildOptions, Workspace, build, load_taxonomy

    calls: list[tuple[list, dict]] = []
    original = llama_cpp.Llama.create_chat_completion

    def recording(self, messages, **kwargs):
        out = original(self, messages=messages, **kwargs)
        calls.append((messages, kwargs))
        return out

    llama_cpp.Llama.create_chat_completion = recording
    try:
        taxonomy = load_taxonomy(spec)
        start = time.perf_counter()
        workspace = Workspace(store=work / "s.duckdb", builds=work / "out")
        result = build(taxonomy, workspace, BuildOptions(use_lock=False))
        seconds = time.perf_counter() - start
    finally:
        llama_cpp.Llama.create_chat_completion = original
    return result.as_json(), calls, seconds


def direct(calls: list[tuple[list, dict]]) -> tuple[int, float]:
    from llama_cpp import Llama

    from glanc.specs.models import embedded_gguf

    start = time.perf_counter()
    llm = Llama(
        model_path=str(embedded_gguf()), n_ctx=4096, n_threads=os.cpu_count() or 1, verbose=False
    )
    tokens = 0
    for messages, kwargs in calls:
        out = llm.create_chat_completion(messages=messages, **kwargs)
        tokens += out["usage"]["completion_tokens"]
    return tokens, time.perf_counter() - start


def child(kind: str, spec: Path, calls_file: Path) -> None:
    """One side of a run, alone in a fresh process: llama.cpp's OpenMP thread
    teams belong to the thread that first calls it and outlive the model, and a
    build run in a process where another thread had used llama.cpp ran 1.7x
    slower (measured: 210 s against 126 s for the same 26 calls)."""
    if kind == "glanc":
        work = Path(tempfile.mkdtemp(prefix="glanc-embedded-"))
        try:
            summary, calls, seconds = glanc_build(spec, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        calls_file.write_text(json.dumps(calls))
        tokens = summary["tokens"]["out"]
        print(json.dumps({"tokens": tokens, "seconds": seconds, "calls": len(calls)}))
    else:
        tokens, seconds = direct([tuple(c) for c in json.loads(calls_file.read_text())])
        print(json.dumps({"tokens": tokens, "seconds": seconds}))


def run_child(kind: str, spec: Path, calls_file: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, str(spec), "--child", kind, "--calls", str(calls_file)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=("glanc", "direct"), help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=Path, help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.child:
        child(a.child, a.spec, a.calls)
        return
    rates = []
    for _ in range(a.repeat):
        calls_file = Path(tempfile.mkdtemp(prefix="glanc-embedded-")) / "calls.json"
        g = run_child("glanc", a.spec, calls_file)
        d = run_child("direct", a.spec, calls_file)
        shutil.rmtree(calls_file.parent, ignore_errors=True)
        rates.append(
            {
                "calls": g["calls"],
                "glanc_tokens": g["tokens"],
                "glanc_s": round(g["seconds"], 2),
                "glanc_tokens_per_s": round(g["tokens"] / g["seconds"], 1),
                "direct_tokens": d["tokens"],
                "direct_s": round(d["seconds"], 2),
                "direct_tokens_per_s": round(d["tokens"] / d["seconds"], 1),
            }
        )
        print(json.dumps(rates[-1]), flush=True)
    ratio = statistics.median(r["glanc_tokens_per_s"] / r["direct_tokens_per_s"] for r in rates)
    print(json.dumps({"measure": "embedded", "runs": a.repeat, "ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main()
