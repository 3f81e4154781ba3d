"""--processes N: the thread backend's calls spread over worker processes write
the same bytes as one process, for the stub and over HTTP (the key reaching
every worker); a worker killed mid-build costs its calls, not the build."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from conftest import ROOT, build_process, same_files
from test_remote import SECRET
from test_remote import spec as remote_spec
from test_resume import SPEC, TOTAL_CALLS


def test_stub_and_http_on_worker_processes_write_one_processs_bytes(tmp_path, fake_server):
    spec = tmp_path / "resume.yaml"
    spec.write_text(SPEC.replace("latency_ms: 100", "latency_ms: 5"))
    one, at_one = build_process(spec, tmp_path, "one")
    three, at_three = build_process(spec, tmp_path, "three", "--processes", "3", "--concurrency", "6")
    assert one.returncode == three.returncode == 0, three.stderr
    assert json.loads(one.stdout)["stages"] == json.loads(three.stdout)["stages"]
    assert json.loads(three.stdout)["lm_calls"] == TOTAL_CALLS
    same_files(at_one, at_three)

    env = {**os.environ, "GLANC_TEST_KEY": SECRET}
    base = fake_server(latency_ms=20, jitter_ms=20)
    http = remote_spec(tmp_path, base)
    one, at_one = build_process(http, tmp_path, "http1", env=env)
    two, at_two = build_process(http, tmp_path, "http2", "--processes", "2", env=env)
    assert one.returncode == two.returncode == 0, two.stderr
    same_files(at_one, at_two)
    with urllib.request.urlopen(base.replace("/v1", "/stats")) as response:
        stats = json.loads(response.read())
    with urllib.request.urlopen(base.replace("/v1", "/requests")) as response:
        shapes = json.loads(response.read())
    assert shapes[f"auth=Bearer {SECRET}"] == sum(stats.values())


def test_a_killed_worker_fails_its_calls_and_a_rerun_finishes(tmp_path):
    spec = tmp_path / "resume.yaml"
    # 300 ms a call, 64 calls 4 at a time: about 5 s of calls once the workers are up,
    # so a kill half a second after they appear lands mid-build on any machine (a
    # worker killed while still importing loses the calls queued for it just the same)
    spec.write_text(SPEC.replace("latency_ms: 100", "latency_ms: 300"))
    store, out = tmp_path / "s.duckdb", tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "glanc", "build", str(spec), "--store", str(store), "--out",
         str(out), "--json", "-q", "--processes", "2", "--concurrency", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    workers: list[str] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "spawn_main"],
                               capture_output=True, text=True)
        workers = found.stdout.split()
        time.sleep(0.2)
    time.sleep(0.5)
    os.kill(int(workers[0]), signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr  # the lost calls failed; the build finished the rest
    assert "worker process" in stdout + stderr
    again, _ = build_process(spec, tmp_path, "unused", "--store", str(store), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert 0 < json.loads(again.stdout)["lm_calls"] < TOTAL_CALLS  # only what was lost


def test_processes_with_ray_is_a_one_line_error(glanc, tiny):
    result = glanc("build", str(tiny), "--model", "stub", "--backend", "ray", "--processes", "2")
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: --processes spreads the thread backend")
