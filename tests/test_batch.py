"""The Batch API backend against a fake OpenAI Batch API on loopback
(tests/servers/fake_batch.py): the same bytes as direct calls, resumed after a
kill without a batch created twice, expiry, malformed lines, batch files."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from conftest import ROOT, artifact_files, summary

sys.path.insert(0, str(ROOT / "tests" / "servers"))
from fake_openai import answer, chat_completion  # noqa: E402

KEY = "sk-test-batch-not-a-real-key-42"


def spec(tmp_path: Path, base: str, batch: str = "{poll_s: 0.02, poll_max_s: 0.05}",
         name: str = "remote", price: str = "{input: 1, output: 2}") -> Path:
    model = (f"{{id: openai/fake-model, api_base: '{base}', api_key: 'env:GLANC_TEST_KEY', "
             f"timeout: 5, max_retries: 2, price: {price}, batch: {batch}}}")
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"glanc: 1\nname: {name}\nseed: 3\ntemplate: json\nquality: {{enabled: false}}\n"
        f"settings:\n  models: {{generator: {model}, answerer: {model}}}\n"
        "  subject_samples: 1\n  max_subjects: 2\n  questions_per_subject: 3\n"
        "taxonomy:\n  - name: Science\n    children:\n      - name: Physics\n      - name: Chemistry\n"
    )
    return path


def get(base: str, path: str) -> dict:
    with urllib.request.urlopen(base.replace("/v1", path)) as response:
        return json.loads(response.read())


def build(glanc, path: Path, where: Path, *args: str):
    result = glanc("build", str(path), "--json", "-q", "--store", str(where / "cache.duckdb"),
                   "--out", str(where / "builds"), *args, store=False)
    return result.exit_code, summary(result)


def artifact(where: Path, name: str = "remote") -> dict[str, bytes]:
    """The artifact's files; the manifest without its spec digest (each test's fake
    server listens on a port of its own, and api_base is part of the spec)."""
    files = artifact_files(where / "builds" / name)
    manifest = json.loads(files["manifest.json"])
    assert len(manifest.pop("spec_digest")) == 64
    files["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return files


def statuses(store: Path) -> list[tuple]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute("SELECT key, status, error FROM nodes ORDER BY key").fetchall()
    finally:
        con.close()


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("GLANC_TEST_KEY", KEY)


@pytest.fixture
def reference(glanc, tmp_path, fake_server, env):
    """The artifact built with direct calls (threads) against the same fake model."""
    base = fake_server()
    code, _ = build(glanc, spec(tmp_path, base), tmp_path / "threads", "--backend", "threads")
    assert code == 0
    return artifact(tmp_path / "threads")


def test_batch_build_gives_the_thread_backends_bytes_and_sends_the_same_requests(
        glanc, tmp_path, fake_server, env, reference):
    base = fake_server(batch_steps=2)
    code, out = build(glanc, spec(tmp_path, base), tmp_path / "batch")
    assert code == 0 and out["rows"] == 12
    assert artifact(tmp_path / "batch") == reference  # dataset, lock, manifest, card
    stats = get(base, "/batch-stats")
    # one wave per depth of the graph: subjects, syllabi, questions, answers
    assert stats["batches"] == 4 and stats["requests"] == 30 == out["lm_calls"]
    # every line's body is the very request a direct call sends
    direct = fake_server()
    build(glanc, spec(tmp_path, direct, name="remote"), tmp_path / "direct", "--backend", "threads")
    assert get(base, "/bodies")["batch"] == get(direct, "/bodies")["chat"]
    # cost at the batch price: half the price by default
    cost = out["models"]["openai/fake-model"]["cost_usd"]
    tokens = out["tokens"]
    assert cost == pytest.approx((tokens["in"] * 1 + tokens["out"] * 2) / 1e6 * 0.5, abs=1e-6)
    for p in (tmp_path / "batch").rglob("*"):
        if p.is_file():
            assert KEY.encode() not in p.read_bytes()
    costs = {}  # glanc plan prices a rerun of the answers at the batch price too
    priced = spec(tmp_path, base, name="remote", price="{input: 1000, output: 2000}")
    for backend in ("batch", "threads"):
        plan = glanc("plan", str(priced), "--json", "--select", "stage:answer",
                     "--force", "--backend", backend, "--store",
                     str(tmp_path / "batch" / "cache.duckdb"), "--out",
                     str(tmp_path / "batch" / "builds"), store=False)  # fmt: skip
        costs[backend] = json.loads(plan.stdout)["cost"]
    assert costs["threads"] > 0 and costs["batch"] == pytest.approx(costs["threads"] / 2, 1e-3)


def test_killed_while_polling_resumes_the_same_batches(glanc, tmp_path, fake_server, env,
                                                       reference):
    base = fake_server(batch_steps=10)
    path = spec(tmp_path, base)
    where = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "glanc", "build", str(path), "-q", "--store",
         str(where / "cache.duckdb"), "--out", str(where / "builds")],
        env={**os.environ, "GLANC_TEST_KEY": KEY}, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:  # the second wave (syllabi) is being polled
        stats = get(base, "/batch-stats")
        if stats["batches"] == 2 and stats["retrieves"] >= 3 * 10 + 3:
            break
        assert proc.poll() is None and time.monotonic() < deadline, stats
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    created = get(base, "/batch-stats")["batches"]
    assert created == 2

    plan = glanc("plan", str(path), "--json", "--store", str(where / "cache.duckdb"),
                 "--out", str(where / "builds"), store=False)  # fmt: skip
    shown = json.loads(plan.stdout)["batches"]
    assert [(w["batch_id"], w["requests"]) for w in shown] == [("batch_2", 4)]
    assert shown[0]["status"] in ("validating", "in_progress", "finalizing")
    text = glanc("plan", str(path), "--store", str(where / "cache.duckdb"),
                 "--out", str(where / "builds"), store=False).stdout  # fmt: skip
    assert "batch_2  openai/fake-model" in text and "sent " in text

    code, out = build(glanc, path, where)
    assert code == 0
    stats = get(base, "/batch-stats")
    assert stats["batches"] == 4 and stats["requests"] == 30  # nothing sent twice
    assert artifact(where) == reference
    plan = glanc("plan", str(path), "--json", "--store", str(where / "cache.duckdb"),
                 "--out", str(where / "builds"), store=False)  # fmt: skip
    assert "batches" not in json.loads(plan.stdout)  # every wave taken back
    assert glanc("gc", str(path), "--store", str(where / "cache.duckdb"),
                 "--out", str(where / "builds"), store=False).exit_code == 0  # fmt: skip
    con = duckdb.connect(str(where / "cache.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM waves").fetchone() == (0,)
    con.close()


def test_a_batch_cancelled_at_the_provider_is_sent_again(glanc, tmp_path, fake_server, env,
                                                        reference):
    base = fake_server(batch_steps=5)
    where = tmp_path / "cancelled"
    proc = subprocess.Popen(
        [sys.executable, "-m", "glanc", "build", str(spec(tmp_path, base)), "-q", "--store",
         str(where / "cache.duckdb"), "--out", str(where / "builds")],
        env={**os.environ, "GLANC_TEST_KEY": KEY}, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while get(base, "/batch-stats")["batches"] < 2:  # the syllabi's batch exists
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    request = urllib.request.Request(base + "/batches/batch_2/cancel", data=b"", method="POST")
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read())["status"] == "cancelling"
    assert proc.wait(timeout=60) == 0
    stats = get(base, "/batch-stats")
    assert stats["batches"] == 5 and stats["requests"] == 30 + 4  # the 4 syllabi, once more
    assert artifact(where) == reference


def test_detached_builds_send_and_stop_and_a_rerun_takes_back(glanc, tmp_path, fake_server, env,
                                                              reference):
    base = fake_server()
    path, where = spec(tmp_path, base), tmp_path / "detached"
    runs = []
    while len(runs) < 40:
        result = glanc("build", str(path), "--detach", "--json", "-q", "--store",
                       str(where / "cache.duckdb"), "--out", str(where / "builds"),
                       store=False)  # fmt: skip
        runs.append(result.exit_code)
        if result.exit_code != 3:
            break
        waiting = summary(result)["waiting"]
        assert waiting["at_provider"] and waiting["calls"] > 0
        assert "left running: batch_" in result.output
        assert not (where / "builds" / "remote").exists()
    assert runs[-1] == 0 and set(runs[:-1]) == {3} and len(runs) > 4, runs
    stats = get(base, "/batch-stats")
    assert stats["batches"] == 4 and stats["requests"] == 30  # each wave sent once
    assert stats["retrieves"] <= len(runs) + 4  # a look per run at most, and no waiting
    assert artifact(where) == reference
    assert glanc("build", str(path), "--detach", "--backend", "threads").exit_code == 2


def test_an_expired_batch_resends_only_what_is_missing(glanc, tmp_path, fake_server, env,
                                                       reference):
    base = fake_server(batch_expire="3")  # the questions' batch expires half done
    code, out = build(glanc, spec(tmp_path, base), tmp_path / "expired")
    assert code == 0
    stats = get(base, "/batch-stats")
    assert stats["batches"] == 5 and stats["requests"] == 30 + 6  # the 6 of 12 not answered
    assert artifact(tmp_path / "expired") == reference


def test_a_create_whose_reply_was_lost_is_found_not_made_twice(glanc, tmp_path, fake_server,
                                                               env, reference):
    base = fake_server(batch_lose_create="2")
    code, _ = build(glanc, spec(tmp_path, base), tmp_path / "lost")
    assert code == 0
    stats = get(base, "/batch-stats")
    assert stats["batches"] == 4 and stats["requests"] == 30 and stats["lists"] >= 1
    assert artifact(tmp_path / "lost") == reference


def test_a_batch_the_provider_will_not_show_stays_open_for_a_rerun(glanc, tmp_path, fake_server,
                                                                   env, reference):
    base = fake_server(batch_deny="2")
    where = tmp_path / "denied"
    code, out = build(glanc, spec(tmp_path, base), where)
    assert code == 1
    assert {f["error"] for f in out["failed"]} == {
        'transport: batch batch_2: GET /batches/batch_2: HTTP 403: {"message": "this key may not '
        'read that batch", "type": "invalid_request_error"}'}
    request = urllib.request.Request(base.replace("/v1", "/batch-allow"), data=b"", method="POST")
    urllib.request.urlopen(request).close()
    code, out = build(glanc, spec(tmp_path, base), where)  # the key mended: polled, not resent
    assert code == 0
    assert get(base, "/batch-stats") | {"retrieves": 0, "lists": 0} == {
        "files": 4, "batches": 4, "requests": 30, "retrieves": 0, "lists": 0}
    assert artifact(where) == reference


def test_error_lines_go_through_the_retry_policy(glanc, tmp_path, fake_server, env, reference):
    base = fake_server(batch_errors=4)  # every 4th request: a 500 in the error file
    code, out = build(glanc, spec(tmp_path, base), tmp_path / "errors")
    assert code == 0
    assert get(base, "/batch-stats")["requests"] > 30
    assert artifact(tmp_path / "errors") == reference


def test_a_malformed_output_line_fails_its_node_and_the_rest_are_taken(
        glanc, tmp_path, fake_server, env, reference):
    base = fake_server(batch_malformed=5)
    where = tmp_path / "malformed"
    code, out = build(glanc, spec(tmp_path, base), where)
    assert code == 1
    failed = [r for r in statuses(where / "cache.duckdb") if r[1] != "ok"]
    assert failed and all("malformed batch output line" in r[2] for r in failed)
    assert {f["key"]: f["error"] for f in out["failed"]} == {r[0]: r[2] for r in failed}
    ok = [r for r in statuses(where / "cache.duckdb") if r[1] == "ok"]
    assert len(ok) + len(failed) == get(base, "/batch-stats")["requests"]


def test_a_batch_that_fails_validation_fails_its_nodes_with_the_reason(
        glanc, tmp_path, fake_server, env):
    base = fake_server(batch_fail="1")
    code, out = build(glanc, spec(tmp_path, base), tmp_path / "refused")
    assert code == 1
    assert {f["error"] for f in out["failed"]} == {
        "transport: batch batch_1 failed: the fake refuses this batch"}
    code, out = build(glanc, spec(tmp_path, base), tmp_path / "refused")  # a rerun retries them
    assert code == 0 and out["rows"] == 12


def test_the_quality_gates_redraws_go_in_waves_of_their_own(glanc, tmp_path, fake_server, env):
    """The default (plain-text) template with the quality layer on, and a length limit
    the fake's questions all exceed: every row is dropped and drawn again, round after
    round; the dropped rows are the same bytes either way."""
    base = fake_server()
    path = tmp_path / "q.yaml"
    model = f"{{id: openai/fake, api_base: '{base}', batch: {{poll_s: 0.02, poll_max_s: 0.05}}}}"
    path.write_text(
        f"glanc: 1\nname: q\nseed: 7\nsettings:\n  models: {{generator: {model}, answerer: {model}}}\n"
        "  subject_samples: 1\n  max_subjects: 2\n  sessions: 3\n  key_concepts: 3\n"
        "  questions_per_subject: 2\n"
        "quality: {redraws: 2, checks: {length: {max_question_words: 20}}}\n"
        "taxonomy:\n  - name: Science\n    children:\n      - name: Physics\n"
    )
    build(glanc, path, tmp_path / "threads", "--backend", "threads")
    before = get(base, "/batch-stats")["batches"]
    build(glanc, path, tmp_path / "batch")
    threads, batch = artifact(tmp_path / "threads", "q"), artifact(tmp_path / "batch", "q")
    assert threads == batch
    assert any(n.startswith("dropped/") for n in batch) and not any(n.startswith("data/") for n in batch)
    assert get(base, "/batch-stats")["batches"] - before == 4 + 2 * 2  # two rounds of redraws


def test_waves_are_split_at_the_request_cap(glanc, tmp_path, fake_server, env, reference):
    base = fake_server()
    code, _ = build(glanc, spec(tmp_path, base, "{poll_s: 0.02, max_requests: 5}"),
                    tmp_path / "split")  # fmt: skip
    assert code == 0
    stats = get(base, "/batch-stats")
    assert stats["batches"] == 1 + 1 + 3 + 3 and stats["requests"] == 30
    data = {n: b for n, b in artifact(tmp_path / "split").items() if n.startswith("data/")}
    assert data and data == {n: b for n, b in reference.items() if n.startswith("data/")}


def results_of(wave: Path, out: Path, broken: int | None = None) -> None:
    """Run a batch file through the fake model, as vllm run-batch would."""
    lines = []
    for i, line in enumerate(wave.read_text().splitlines()):
        request = json.loads(line)
        body = chat_completion(request["body"], *answer(request["body"]))
        text = json.dumps({"id": f"r{i}", "custom_id": request["custom_id"], "error": None,
                           "response": {"status_code": 200, "request_id": "x", "body": body}})
        lines.append(text[: len(text) // 2] if i == broken else text)  # cut: not JSON
    out.write_text("\n".join(lines) + "\n")


def test_batch_file_round_trip_through_ingest(glanc, tmp_path, fake_server, env, reference):
    base = fake_server()
    path = spec(tmp_path, base)
    where = tmp_path / "files"
    common = ["--store", str(where / "cache.duckdb"), "--out", str(where / "builds")]
    waves = 0
    while True:
        wave = tmp_path / f"wave{waves}.jsonl"
        result = glanc("build", str(path), "--batch-file", str(wave), "-q", *common, store=False)
        if result.exit_code == 0:
            break
        assert result.exit_code == 3, result.output
        assert f"wrote {len(wave.read_text().splitlines())} request(s) to {wave}" in result.output
        again = glanc("build", str(path), "--batch-file", str(tmp_path / "x.jsonl"), "-q", *common,
                      store=False)  # fmt: skip
        assert again.exit_code == 3 and not (tmp_path / "x.jsonl").exists()  # not written twice
        assert "still awaiting results" in again.output
        results_of(wave, tmp_path / f"results{waves}.jsonl")
        taken = glanc("ingest", str(path), str(tmp_path / f"results{waves}.jsonl"), "-q", *common,
                      store=False)  # fmt: skip
        assert taken.exit_code in (0, 3), taken.output
        waves += 1
        assert waves < 10
    assert waves == 4
    assert artifact(where) == reference
    assert get(base, "/batch-stats")["requests"] == 0  # nothing went to the server


def test_ingest_fails_a_malformed_line_and_takes_the_rest(glanc, tmp_path, fake_server, env):
    path = spec(tmp_path, fake_server())
    where = tmp_path / "ingest"
    common = ["--store", str(where / "cache.duckdb"), "--out", str(where / "builds")]
    wave = tmp_path / "wave.jsonl"
    assert glanc("build", str(path), "--batch-file", str(wave), "-q", *common,
                 store=False).exit_code == 3  # fmt: skip
    results_of(wave, tmp_path / "results.jsonl", broken=1)
    result = glanc("ingest", str(path), str(tmp_path / "results.jsonl"), "--json", "-q", *common,
                   store=False)  # fmt: skip
    out = json.loads(result.stdout)
    assert out["build"]["stages"]["subjects"]["run"] == 1
    assert [f["error"] for f in out["build"]["failed"]] == [
        "transport: malformed batch output line (not JSON)"]
    unknown = tmp_path / "other.jsonl"
    unknown.write_text('{"custom_id": "feed", "response": null}\n')
    bad = glanc("ingest", str(path), str(unknown), *common, store=False)
    assert bad.exit_code == 2 and "no line answers a request" in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_models_that_cannot_batch_are_one_line_errors(glanc, tiny):
    result = glanc("build", str(tiny), "--backend", "batch")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: model stub cannot go through a Batch API (in-process): batches go to "
        "openai/NAME models with an api_base; drop --backend batch, or give this model "
        "batch: false in the spec")
    result = glanc("build", str(tiny), "--backend", "threads", "--batch-file", "w.jsonl")
    assert result.exit_code == 2 and "--batch-file" in result.output


def test_a_batch_file_where_none_can_be_written_is_refused_before_any_call(
        glanc, tmp_path, fake_server, env):
    base = fake_server()
    result = glanc("build", str(spec(tmp_path, base)), "--batch-file",
                   str(tmp_path / "no" / "such" / "w.jsonl"))  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().endswith("is not a writable directory; choose a file in a "
                                          "writable directory")  # fmt: skip
    assert not (tmp_path / "cache.duckdb").exists()
