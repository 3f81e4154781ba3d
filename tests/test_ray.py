"""--backend ray: the same build on a local Ray gives the thread backend's bytes,
for the stub and over HTTP; a killed Ray build resumes without redoing finished
calls; without Ray installed the error says how to install it."""

import json
import os
import random
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import build_process, ok_records, same_files
from test_remote import SECRET
from test_remote import spec as remote_spec
from test_resume import SPEC, TOTAL_CALLS, glanc_process, kill_mid_run

pytest.importorskip("ray.data", reason="the Ray backend's tests need pip install -e '.[ray]'")

def run(spec: Path, tmp_path: Path, name: str, *args: str, env: dict | None = None):
    """A build in its own process (Ray starts and stops with it) that succeeds."""
    proc, build_dir = build_process(spec, tmp_path, name, *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), build_dir


def ray_processes() -> int:
    found = subprocess.run(["pgrep", "-f", "raylet|gcs_server"], capture_output=True, text=True)
    return len(found.stdout.split())


def test_stub_on_ray_writes_the_thread_backends_bytes(tmp_path):
    spec = tmp_path / "resume.yaml"
    spec.write_text(SPEC.replace("latency_ms: 100", "latency_ms: 5"))
    threads, at_threads = run(spec, tmp_path, "threads")
    ray, at_ray = run(spec, tmp_path, "ray", "--backend", "ray", "--concurrency", "3")
    assert threads["lm_calls"] == ray["lm_calls"] == TOTAL_CALLS
    assert threads["stages"] == ray["stages"]  # token accounting as on threads
    same_files(at_threads, at_ray)

    # the spec's own setting, no flag: the same bytes, the manifest's digest included
    on_ray = tmp_path / "resume.yaml"
    on_ray.write_text(SPEC.replace("latency_ms: 100", "latency_ms: 5")
                      + "execution: {backend: ray}\n")
    again, at_spec = run(on_ray, tmp_path, "spec")
    assert again["lm_calls"] == TOTAL_CALLS
    same_files(at_threads, at_spec)
    assert ray_processes() == 0  # the local Ray went with the build


def test_openai_server_on_ray_workers_writes_the_thread_backends_bytes(tmp_path, fake_server):
    env = {**os.environ, "GLANC_TEST_KEY": SECRET}
    base = fake_server(latency_ms=20)
    spec = remote_spec(tmp_path, base)
    threads, at_threads = run(spec, tmp_path, "threads", env=env)
    ray, at_ray = run(spec, tmp_path, "ray", "--backend", "ray", env=env)
    assert threads["rows"] == ray["rows"] == 12
    same_files(at_threads, at_ray)
    with urllib.request.urlopen(base.replace("/v1", "/stats")) as response:
        stats = json.loads(response.read())
    with urllib.request.urlopen(base.replace("/v1", "/requests")) as response:
        shapes = json.loads(response.read())
    assert shapes[f"auth=Bearer {SECRET}"] == sum(stats.values())  # the key reached them


def test_killed_ray_build_resumes_without_redoing_finished_calls(tmp_path):
    spec = tmp_path / "resume.yaml"
    spec.write_text(SPEC)
    _, reference = run(spec, tmp_path, "reference")

    store, out = tmp_path / "killed.duckdb", tmp_path / "killed"
    kill_mid_run(spec, store, out, random.Random(os.getpid()), "--backend", "ray")
    finished = ok_records(store)
    assert 0 < len(finished) < TOTAL_CALLS
    assert not (out / "resume" / "dataset.jsonl").exists()

    rerun = glanc_process(spec, store, out, "--backend", "ray")
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert json.loads(stdout)["lm_calls"] == TOTAL_CALLS - len(finished)
    final = ok_records(store)
    assert all(final[k] == t for k, t in finished.items()), "a finished node was recomputed"
    same_files(reference, out / "resume")
    deadline = time.monotonic() + 30  # the killed build's Ray goes with it, not lingering
    while ray_processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray_processes() == 0


def test_without_ray_the_error_says_how_to_install_it(glanc, tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    result = glanc("build", str(tiny), "--model", "stub", "--backend", "ray")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: --backend ray needs Ray Data, which is not installed: "
        "pip install -e '.[ray]' (or pip install 'ray[data]')"
    )
