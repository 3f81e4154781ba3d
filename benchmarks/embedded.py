"""Embedded model: tokens/s of a glanc build vs llama-cpp-python called directly.

Builds a taxonomy on the embedded GGUF model in-process, recording every
request glanc's engine hands llama.cpp (messages and sampling arguments, seeds
included), then replays exactly those requests on a fresh ``llama_cpp.Llama``
in a plain loop. Both timings include loading the model. Run from the
repository root:

    .venv/bin/python benchmarks/embedded.py taxonomies/science.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def glanc_build(spec: Path, work: Path) -> tuple[dict, list[tuple[list, dict]], float]:
    import llama_cpp

    from glanc.resolve import load_taxonomy
    from glanc.run import build

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
        result = build(taxonomy, store_path=work / "s.duckdb", out_dir=work / "out", use_lock=False)
        seconds = time.perf_counter() - start
    finally:
        llama_cpp.Llama.create_chat_completion = original
    return result.as_json(), calls, seconds


def direct(calls: list[tuple[list, dict]]) -> tuple[int, float]:
    from llama_cpp import Llama

    from glanc.models import embedded_gguf

    start = time.perf_counter()
    llm = Llama(
        model_path=str(embedded_gguf()), n_ctx=4096, n_threads=os.cpu_count() or 1, verbose=False
    )
    tokens = 0
    for messages, kwargs in calls:
        out = llm.create_chat_completion(messages=messages, **kwargs)
        tokens += out["usage"]["completion_tokens"]
    return tokens, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    a = parser.parse_args()
    rates = []
    for _ in range(a.repeat):
        work = Path(tempfile.mkdtemp(prefix="glanc-embedded-"))
        try:
            summary, calls, seconds = glanc_build(a.spec, work)
            tokens = summary["tokens"]["out"]
            direct_tokens, direct_s = direct(calls)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rates.append(
            {
                "calls": len(calls),
                "glanc_tokens": tokens,
                "glanc_s": round(seconds, 2),
                "glanc_tokens_per_s": round(tokens / seconds, 1),
                "direct_tokens": direct_tokens,
                "direct_s": round(direct_s, 2),
                "direct_tokens_per_s": round(direct_tokens / direct_s, 1),
            }
        )
        print(json.dumps(rates[-1]), flush=True)
    ratio = statistics.median(r["glanc_tokens_per_s"] / r["direct_tokens_per_s"] for r in rates)
    print(json.dumps({"measure": "embedded", "runs": a.repeat, "ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main()
