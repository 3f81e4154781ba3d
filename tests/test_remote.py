"""Remote models over HTTP: a fake OpenAI-compatible server on loopback, with faults."""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import ROOT, summary

SERVER = ROOT / "tests" / "servers" / "fake_openai.py"
SECRET = "sk-test-not-a-real-key-1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake_server():
    procs = []

    def start(**options) -> str:
        port = free_port()
        args = [sys.executable, str(SERVER), "--port", str(port)]
        for k, v in options.items():
            args += [f"--{k.replace('_', '-')}", str(v)]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        return f"http://127.0.0.1:{port}/v1"

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def spec(tmp_path: Path, base: str, name: str = "remote") -> Path:
    model = (f"{{id: openai/fake-model, api_base: '{base}', api_key_env: GLANC_TEST_KEY, "
             "timeout: 1, max_retries: 1}")
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"glanc: 1\nname: {name}\nseed: 3\n"
        f"settings:\n  models: {{generator: {model}, answerer: {model}}}\n"
        "  subject_samples: 1\n  max_subjects: 2\n  questions_per_subject: 3\n"
        "taxonomy:\n  - name: Science\n    children:\n      - name: Physics\n      - name: Chemistry\n"
    )
    return path


def build(glanc, path: Path, store: str, out: str):
    result = glanc("build", str(path), "--json", "-q", "--store", store, "--out", out,
                   "--concurrency", "8", store=False)
    return result.exit_code, summary(result)


def test_build_over_http_with_faults_retries_and_converges(glanc, tmp_path, fake_server, monkeypatch):
    monkeypatch.setenv("GLANC_TEST_KEY", SECRET)
    clean = fake_server()
    code, ref = build(glanc, spec(tmp_path, clean), str(tmp_path / "ref.duckdb"), str(tmp_path / "ref"))
    assert code == 0 and ref["rows"] == 12 and ref["tokens"]["out"] > 0
    expected = (tmp_path / "ref" / "remote" / "dataset.jsonl").read_bytes()

    faulty = fake_server(fault_rate=0.5, stall_s=3, seed=11)
    path = spec(tmp_path, faulty)
    store = tmp_path / "faulty.duckdb"
    code, first = build(glanc, path, str(store), str(tmp_path / "out"))
    con = duckdb.connect(str(store), read_only=True)
    records = con.execute("SELECT key, status, error, created_at FROM nodes").fetchall()
    con.close()
    failed = [r for r in records if r[1] != "ok"]
    assert failed and all(r[2].startswith("transport: ") for r in failed)  # each with its reason
    assert code == (1 if failed else 0)
    assert sum(v["run"] + v["failed"] for v in first["stages"].values()) == len(records)

    done_before = {r[0]: r[3] for r in records if r[1] == "ok"}
    for _ in range(10):  # rerun until every node is done; finished nodes never run again
        code, again = build(glanc, path, str(store), str(tmp_path / "out"))
        con = duckdb.connect(str(store), read_only=True)
        now = dict(con.execute("SELECT key, created_at FROM nodes WHERE status = 'ok'").fetchall())
        con.close()
        assert all(now[k] == t for k, t in done_before.items())
        done_before = now
        if code == 0:
            break
    assert code == 0
    assert (tmp_path / "out" / "remote" / "dataset.jsonl").read_bytes() == expected

    for where in [store, *(tmp_path / "out" / "remote").iterdir()]:
        assert SECRET.encode() not in Path(where).read_bytes()
    import urllib.request

    with urllib.request.urlopen(faulty.replace("/v1", "/stats")) as response:
        stats = json.loads(response.read())
    assert sum(1 for kind, n in stats.items() if kind != "ok" and n) >= 5, stats
