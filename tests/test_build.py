"""Builds through the CLI with the stub model: cache, dataset, failures, bad input."""

import json
import os
import socket
from pathlib import Path

from conftest import ROOT, merged, summary

from glanc.lm.call import MAX_ATTEMPTS


def rows(tmp_path: Path, name: str = "tiny") -> list[dict]:
    lines = merged(tmp_path / "builds" / name).decode().splitlines()
    return [json.loads(line) for line in lines]


def test_build_then_rebuild_calls_no_model(glanc, tiny, tmp_path):
    first = glanc("build", str(tiny), "--json", "-q")
    assert first.exit_code == 0, first.output
    s = summary(first)
    # Physics: 2 subjects samples -> 2 subjects (max_subjects) ; Chemistry: 1 pinned subject
    assert {k: v["run"] for k, v in s["stages"].items()} == {
        "subjects": 2, "syllabus": 3, "question": 9, "answer": 9}
    assert s["lm_calls"] == 23 and s["rows"] == 9
    assert s["tokens"]["in"] > 0 and s["tokens"]["out"] > 0
    dataset = merged(tmp_path / "builds" / "tiny")

    second = glanc("build", str(tiny), "--json", "-q")
    assert second.exit_code == 0
    s2 = summary(second)
    assert s2["lm_calls"] == 0
    assert {k: v["cached"] for k, v in s2["stages"].items()} == {
        "subjects": 2, "syllabus": 3, "question": 9, "answer": 9}
    assert merged(tmp_path / "builds" / "tiny") == dataset


def test_dataset_rows_are_well_formed_and_sorted(glanc, tiny, tmp_path):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    data = rows(tmp_path)
    assert [r["id"] for r in data] == sorted(r["id"] for r in data)
    assert len({r["id"] for r in data}) == len(data)
    for r in data:
        assert [m["role"] for m in r["messages"]] == ["user", "assistant"]
        assert all(m["content"] for m in r["messages"])
        assert r["taxonomy_path"][0] == "Science" and r["discipline"] == r["taxonomy_path"][-1]
        assert r["difficulty"] in ("basic", "challenging")
        assert len(r["sessions"]) == (1 if r["difficulty"] == "basic" else 2)
        assert 1 <= len(r["key_concepts"]) <= 5
        assert r["stub"] is True and r["models"] == {"question": "stub", "answer": "stub"}
        assert set(r["keys"]) == {"syllabus", "question", "answer"}
    chem = [r for r in data if r["discipline"] == "Chemistry"]
    assert {r["subject"] for r in chem} == {"Organic Chemistry"}
    assert {r["level"] for r in chem} == {"intermediate"}
    manifest = json.loads((tmp_path / "builds" / "tiny" / "manifest.json").read_text())
    assert manifest["rows"] == len(data) and manifest["taxonomy"] == "tiny"
    assert len(manifest["spec_digest"]) == 64
    assert manifest["models"]["answer"] == ["stub"]


def test_adding_a_discipline_builds_only_its_nodes(glanc, tiny):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    tiny.write_text(tiny.read_text() + "      - name: Biology\n")
    s = summary(glanc("build", str(tiny), "--json", "-q"))
    assert {k: v["run"] for k, v in s["stages"].items()} == {
        "subjects": 2, "syllabus": 2, "question": 6, "answer": 6}
    assert s["stages"]["answer"]["cached"] == 9


def test_model_override_and_stub_latency_with_concurrency(glanc, tiny):
    tiny.write_text(tiny.read_text().replace(
        "models: {generator: stub, answerer: stub}",
        "models: {generator: embedded, answerer: embedded}"))
    # --model overrides every role: no embedded model is loaded
    result = glanc("build", str(tiny), "--model", "stub", "--json", "-q", "--concurrency", "8")
    assert result.exit_code == 0, result.output
    assert summary(result)["rows"] == 9


def test_unparseable_outputs_are_retried_then_recorded_failed(glanc, tiny, tmp_path):
    template = (ROOT / "glanc" / "templates" / "json.yaml").read_text()
    # the stub's answers are ~20 characters: a 200-character minimum can never parse
    custom = tmp_path / "strict.yaml"
    custom.write_text(template.replace("answer: {type: string, minLength: 20}",
                                       "answer: {type: string, minLength: 200}"))
    tiny.write_text(tiny.read_text().replace("template: json", "template: strict.yaml"))
    result = glanc("build", str(tiny), "--json")
    assert result.exit_code == 1
    s = summary(result)
    assert s["stages"]["answer"]["failed"] == 9 and s["rows"] == 0
    assert s["lm_calls"] == 2 + 3 + 9 + 9 * MAX_ATTEMPTS  # each answer drawn MAX_ATTEMPTS times
    assert all(f["stage"] == "answer" and "unparseable" in f["error"] for f in s["failed"]), s["failed"][:1]
    assert "failed answer [Science/" in result.stderr

    import duckdb

    con = duckdb.connect(str(tmp_path / "cache.duckdb"), read_only=True)
    failed = con.execute("SELECT status, error, raw, attempts FROM nodes WHERE stage='answer'").fetchall()
    con.close()
    assert len(failed) == 9
    assert all(st == "failed" and raw and attempts == MAX_ATTEMPTS for st, _, raw, attempts in failed)
    # a rerun retries only the failed nodes
    again = summary(glanc("build", str(tiny), "--json", "-q"))
    assert again["stages"]["question"]["cached"] == 9 and again["stages"]["answer"]["failed"] == 9


def test_bad_spec_writes_nothing(glanc, tmp_path):
    from conftest import SPECS

    result = glanc("build", str(SPECS / "bad" / "missing_role.yaml"))
    assert result.exit_code == 2
    assert "no model for role 'answerer'" in result.stderr
    assert not (tmp_path / "cache.duckdb").exists() and not (tmp_path / "builds").exists()


def test_unknown_override_model_is_a_clear_error(glanc, tiny, tmp_path):
    result = glanc("build", str(tiny), "--model", "nonsense")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --model: unknown model 'nonsense'")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cache.duckdb").exists()


def test_unreachable_server_is_a_clear_error(glanc, tiny, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    tiny.write_text(tiny.read_text().replace(
        "models: {generator: stub, answerer: stub}",
        f"models: {{generator: stub, answerer: {{id: openai/m, api_base: 'http://127.0.0.1:{port}/v1'}}}}"))
    result = glanc("build", str(tiny))
    assert result.exit_code == 2
    assert f"cannot reach http://127.0.0.1:{port}/v1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cache.duckdb").exists()


def test_a_noop_rebuild_is_recognised_without_walking_the_graph(glanc, tiny, tmp_path):
    first = summary(glanc("build", str(tiny), "--json", "-q"))
    assert first["up_to_date"] is False
    again = summary(glanc("build", str(tiny), "--json", "-q"))
    assert again["up_to_date"] is True and again["lm_calls"] == 0 and again["rows"] == 9
    assert {k: v["cached"] for k, v in again["stages"].items()} == {
        k: v["run"] for k, v in first["stages"].items()}

    dataset = tmp_path / "builds" / "tiny" / "data" / "science" / "physics.jsonl"
    os.utime(dataset, ns=(0, 0))  # a file the build wrote changed: walk again, call nothing
    walked = summary(glanc("build", str(tiny), "--json", "-q"))
    assert walked["up_to_date"] is False and walked["lm_calls"] == 0
    assert summary(glanc("build", str(tiny), "--json", "-q"))["up_to_date"] is True

    tiny.write_text(tiny.read_text().replace("not part of any key", "still no key"))
    assert summary(glanc("build", str(tiny), "--json", "-q"))["up_to_date"] is False
    assert summary(glanc("build", str(tiny), "--json", "-q"))["up_to_date"] is True

    # the store's records changed (a forced rerun): the recorded build is stale
    forced = glanc("build", str(tiny), "--json", "-q", "--select", "stage:answer", "--force")
    assert summary(forced)["lm_calls"] == 9 and summary(forced)["up_to_date"] is False
    after = summary(glanc("build", str(tiny), "--json", "-q"))
    assert after["up_to_date"] is False and after["lm_calls"] == 0


def test_tokens_and_cost_per_model_and_stage(glanc, tiny, tmp_path):
    """GLAN's split (a strong generator, a cheaper answerer), priced: the run's
    calls per model in --json and the progress display, the dataset's tokens and
    cost per model and stage in the manifest, the same after a cached rebuild."""
    tiny.write_text(tiny.read_text().replace(
        "models: {generator: stub, answerer: stub}",
        "models: {generator: {id: stub, price: {input: 5, output: 15}}, "
        "answerer: {id: 'stub:cheap', price: {input: 0.5, output: 1.5}}}"))
    result = glanc("build", str(tiny), "--json")
    s = summary(result)
    models = s["models"]
    assert sorted(models) == ["stub", "stub:cheap"]
    assert models["stub:cheap"]["calls"] == 9 and list(models["stub:cheap"]["stages"]) == ["answer"]
    assert models["stub"]["calls"] == 14
    assert sum(m["tokens_in"] for m in models.values()) == s["tokens"]["in"]
    for m, (pin, pout) in {"stub": (5, 15), "stub:cheap": (0.5, 1.5)}.items():
        expected = (models[m]["tokens_in"] * pin + models[m]["tokens_out"] * pout) / 1e6
        assert abs(models[m]["cost_usd"] - expected) < 1e-6
    assert "    model  stub:cheap  calls 9  tokens " in result.stderr  # live display

    manifest = json.loads((tmp_path / "builds" / "tiny" / "manifest.json").read_text())
    usage = manifest["usage"]
    assert usage["stub"]["stages"]["question"]["nodes"] == 9
    assert usage["stub"]["tokens_in"] == models["stub"]["tokens_in"]
    assert usage["stub:cheap"]["cost_usd"] == models["stub:cheap"]["cost_usd"]

    # all cached, written afresh elsewhere: the manifest counts what the dataset took
    again = summary(glanc("build", str(tiny), "--json", "-q", "--store", str(tmp_path / "cache.duckdb"),
                          "--out", str(tmp_path / "again"), store=False))
    assert again["lm_calls"] == 0 and again["models"] == {}
    assert json.loads((tmp_path / "again" / "tiny" / "manifest.json").read_text()) == manifest
