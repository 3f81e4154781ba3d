"""Remote models over HTTP: a fake OpenAI-compatible server on loopback, with faults."""

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import ROOT, free_port, merged, ok_records, summary, wait_for_a_finished_node

SECRET = "sk-test-not-a-real-key-1234"


def spec(tmp_path: Path, base: str, name: str = "remote") -> Path:
    model = (f"{{id: openai/fake-model, api_base: '{base}', api_key_env: GLANC_TEST_KEY, "
             "timeout: 1, max_retries: 1}")
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"glanc: 1\nname: {name}\nseed: 3\ntemplate: json\nquality: {{enabled: false}}\n"
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
    expected = merged(tmp_path / "ref" / "remote")

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
    assert merged(tmp_path / "out" / "remote") == expected

    for where in [store, *(p for p in (tmp_path / "out" / "remote").rglob("*") if p.is_file())]:
        assert SECRET.encode() not in Path(where).read_bytes()
    import urllib.request

    with urllib.request.urlopen(faulty.replace("/v1", "/stats")) as response:
        stats = json.loads(response.read())
    assert sum(1 for kind, n in stats.items() if kind != "ok" and n) >= 5, stats
    # every request carried the output schema and a token limit (DSPy's own route to
    # an unknown openai/NAME sends neither; glanc's engine does)
    with urllib.request.urlopen(faulty.replace("/v1", "/requests")) as response:
        shapes = json.loads(response.read())
    total = sum(stats.values())
    assert shapes.pop(f"auth=Bearer {SECRET}") == total  # the key went where it belongs
    assert shapes == {"response_format=json_schema": total, "max_tokens=set": total}, shapes


@pytest.mark.model
def test_build_through_llama_cpp_server(glanc, tmp_path, monkeypatch):
    """End to end over HTTP: llama-cpp-python's own OpenAI-compatible server, on
    loopback, serving the embedded SmolLM2 GGUF."""
    from glanc.specs.models import embedded_gguf

    monkeypatch.setenv("GLANC_TEST_KEY", SECRET)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf()),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--verbose", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        import urllib.request

        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "llama_cpp.server did not start"
                time.sleep(0.3)
        model = (f"{{id: openai/smollm2, api_base: 'http://127.0.0.1:{port}/v1', "
                 "api_key: 'env:GLANC_TEST_KEY', timeout: 120, structured_output: json_object}")
        path = tmp_path / "served.yaml"
        path.write_text(
            "glanc: 1\nname: served\nseed: 5\ntemplate: json\nquality: {enabled: false}\n"
            f"settings:\n  models: {{generator: {model}, answerer: {model}}}\n"
            "  sessions: 2\n  key_concepts: 2\n  questions_per_subject: 2\n"
            "  decoding: {syllabus: {max_tokens: 400, temperature: 0.3}, "
            "question: {max_tokens: 150}, answer: {max_tokens: 200}}\n"
            "taxonomy:\n  - name: Science\n    children:\n      - name: Physics\n"
            "        subjects: [{name: Classical Mechanics, level: introductory, "
            "subtopics: [Newton's laws, energy]}]\n"
        )
        result = glanc("build", str(path), "--json", "-q", "--concurrency", "2")
        assert result.exit_code in (0, 1), result.output
        s = summary(result)
        # every call went over HTTP and was metered by the server's usage
        assert s["lm_calls"] >= 1 and s["tokens"]["in"] > 0 and s["tokens"]["out"] > 0, s["failed"]
        con = duckdb.connect(str(tmp_path / "cache.duckdb"), read_only=True)
        done = dict(con.execute(
            "SELECT stage, count(*) FROM nodes WHERE status = 'ok' GROUP BY stage").fetchall())
        con.close()
        # the schema went with the request: llama.cpp's grammar makes even SmolLM2's JSON parse
        assert done.get("syllabus") == 1 and done.get("question", 0) >= 1
        assert s["rows"] >= done.get("answer", 0) >= (1 if result.exit_code == 0 else 0)
        assert (result.exit_code == 0) == (s["rows"] == 2)
    finally:
        server.kill()
        server.wait()


def test_ctrl_c_abandons_calls_in_flight_and_keeps_finished_nodes(glanc, tmp_path, fake_server,
                                                                   monkeypatch):
    """SIGINT while calls hang on a stalled server: the build exits at once (not
    after the 30 s timeout), says how to resume, writes no dataset, and keeps
    every node it finished; the resumed build redoes none of them."""
    import signal

    monkeypatch.setenv("GLANC_TEST_KEY", SECRET)
    clean = fake_server()
    code, _ = build(glanc, spec(tmp_path, clean, "ref"), str(tmp_path / "ref.duckdb"),
                    str(tmp_path / "ref-out"))
    assert code == 0
    expected = merged(tmp_path / "ref-out" / "ref")

    stalling = fake_server(latency_ms=100, fault_rate=0.3, faults="stall", stall_s=120, seed=2)
    path = spec(tmp_path, stalling, "ref")
    path.write_text(path.read_text().replace("timeout: 1, max_retries: 1", "timeout: 30"))
    store, out = tmp_path / "store.duckdb", tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "glanc", "build", str(path), "--store", str(store),
         "--out", str(out), "--concurrency", "8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        # as from a terminal: a test run started in the background (nohup, cmd &)
        # ignores SIGINT, and a Python started so never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    wait_for_a_finished_node(store, proc, seconds=30)
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=20)
    took = time.monotonic() - sent
    assert proc.returncode == 130, stderr
    assert took < 5, f"took {took:.1f}s to stop: in-flight calls were waited for"
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: interrupted: ") and "call(s) in flight abandoned" in last
    assert last.endswith("run the same command again to resume") and "Traceback" not in stderr
    assert not (out / "ref").exists()  # nothing half-written

    kept = ok_records(store)
    assert kept, "no node was finished before the interrupt"
    path.write_text(path.read_text().replace(stalling, clean))  # api_base is not in node keys
    code, again = build(glanc, path, str(store), str(out))
    assert code == 0
    assert sum(v["run"] for v in again["stages"].values()) == ref_nodes(tmp_path) - len(kept)
    now = ok_records(store)
    assert all(now[k] == t for k, t in kept.items())
    assert merged(out / "ref") == expected



def ref_nodes(tmp_path: Path) -> int:
    return len(ok_records(tmp_path / "ref.duckdb"))
