"""llama.cpp threads on a busy machine: the median time of an 80-token call with
N threads, optionally while another process spins on one core.

    python benchmarks/threads.py 1 2            # an idle machine
    python benchmarks/threads.py 1 2 --busy 1   # with one core taken
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

from llama_cpp import Llama

from glanc.specs.models import embedded_gguf


def spin() -> None:
    while True:
        pass


def median_call(threads: int) -> float:
    llm = Llama(model_path=str(embedded_gguf()), n_ctx=1024, n_threads=threads, verbose=False)
    prompt = "Explain Newton's third law of motion in one paragraph."
    messages = [{"role": "user", "content": prompt}]
    times = []
    for seed in range(3):
        start = time.perf_counter()
        llm.create_chat_completion(messages=messages, max_tokens=80, seed=seed, temperature=0.7)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("threads", type=int, nargs="+")
    parser.add_argument("--busy", type=int, default=0, help="cores to keep busy meanwhile")
    a = parser.parse_args()
    hogs = [multiprocessing.Process(target=spin, daemon=True) for _ in range(a.busy)]
    for hog in hogs:
        hog.start()
    try:
        for n in a.threads:
            print(f"threads={n} busy_cores={a.busy}: median {median_call(n):.2f} s a call")
    finally:
        for hog in hogs:
            hog.terminate()


if __name__ == "__main__":
    main()
