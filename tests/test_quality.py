"""The quality layer end to end: rows dropped with their reasons, redrawn until the
spec's quota is met, decontaminated against benchmark files, checked by
``glanc check`` and shown by ``glanc diff``."""

import json
from pathlib import Path

from conftest import artifact_files, merged, rows_of, shards, summary

from glanc.specs.types import CHECKS, STAGE_CHECKS

SPEC = """glanc: 1
name: q
seed: 7
settings:
  models: {{generator: {model}, answerer: {model}}}
  subject_samples: 2
  subjects_per_sample: 2
  max_subjects: 2
  sessions: 3
  key_concepts: 3
  questions_per_subject: 3
  levels: [introductory, advanced]
{quality}taxonomy:
  - name: Science
    children:
      - name: Physics
      - name: Astronomy
"""


def spec(tmp_path: Path, model: str = "stub", quality: str = "") -> Path:
    path = tmp_path / "q.yaml"
    path.write_text(SPEC.format(model=model, quality=quality))
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_model_failing_every_other_call_still_meets_the_quota(glanc, tmp_path, fake_server):
    base = fake_server(bad_every=2)
    model = f"{{id: openai/fake, api_base: '{base}', timeout: 5, max_retries: 1}}"
    path = spec(tmp_path, model, "quality: {redraws: 8}\n")
    result = glanc("build", str(path), "-q", "--json", "--concurrency", "1")
    assert result.exit_code == 0, result.output
    build = tmp_path / "builds" / "q"
    rows, dropped = rows_of(build), rows_of(build, "dropped")
    assert len(rows) == summary(result)["rows"] == 12  # 2 disciplines x 2 subjects x 3
    reasons = {d["dropped"]["check"] for d in dropped}
    assert reasons and reasons <= {"refusal", "question_form", "length", "off_topic"}
    assert all("I cannot answer" in json.dumps(d["messages"]) for d in dropped)
    assert not any("I cannot answer" in json.dumps(r["messages"]) for r in rows)
    manifest = json.loads((build / "manifest.json").read_text())
    quality = manifest["quality"]
    assert sum(quality["dropped"].values()) == len(dropped) == quality["redraws"]
    assert quality["short"] == [] and quality["first_draw"]["rows"] == 12
    card = (build / "README.md").read_text()
    assert "## Quality" in card and "passed every check at their first draw" in card
    assert glanc("check", str(path)).exit_code == 0


def test_dropped_rows_are_byte_stable_checked_and_diffed(glanc, tmp_path):
    path = spec(
        tmp_path, quality="quality: {redraws: 1, checks: {length: {max_question_words: 26}}}\n"
    )
    assert glanc("build", str(path), "-q").exit_code == 4  # rows left short: their own status
    build = tmp_path / "builds" / "q"
    dropped = merged(build, "dropped")
    assert dropped and all(
        d["dropped"]["check"] == "length" for d in rows_of(build, "dropped")
    )
    ids = [d["id"] for d in rows_of(build, "dropped")]
    assert ids == sorted(ids)
    again = tmp_path / "again"
    assert (
        glanc(
            "build",
            str(path),
            "-q",
            "--no-lock",
            "--concurrency",
            "1",
            "--out",
            str(again),
            "--store",
            str(tmp_path / "other.duckdb"),
            store=False,
        ).exit_code
        == 4
    )
    assert merged(again / "q", "dropped") == dropped
    assert glanc("check", str(path)).exit_code == 0
    emptied = shards(build, "dropped")[0]
    emptied.write_text("")
    result = glanc("check", str(path))
    name = emptied.relative_to(build).as_posix()
    assert result.exit_code == 1 and f"{name} differs" in result.stderr
    diff = glanc("diff", str(again / "q"), str(build))
    assert "dropped" in diff.stdout and "length" in diff.stdout


def test_a_question_found_in_a_benchmark_is_dropped_with_its_match(glanc, tmp_path):
    path = spec(tmp_path)
    assert glanc("build", str(path), "-q").exit_code == 0
    rows = rows_of(tmp_path / "builds" / "q")
    leaked = rows[0]["messages"][0]["content"]
    bench = tmp_path / "bench.jsonl"
    bench.write_text(
        json.dumps({"question": "Before. " + leaked + " After, explain."})
        + "\n"
        + json.dumps({"question": "Something else entirely."})
        + "\n"
    )
    path.write_text(SPEC.format(model="stub", quality="quality: {decontaminate: [bench.jsonl]}\n"))
    assert glanc("build", str(path), "-q").exit_code == 0
    build = tmp_path / "builds" / "q"
    dropped = rows_of(build, "dropped")
    hit = [d for d in dropped if d["dropped"]["check"] == "contamination"]
    assert len(hit) == 1 and hit[0]["id"] == rows[0]["id"]
    assert hit[0]["dropped"]["match"]["benchmark"] == "bench.jsonl"
    assert hit[0]["dropped"]["match"]["item"] == 0
    kept = rows_of(build)
    assert len(kept) == len(rows) and leaked not in {r["messages"][0]["content"] for r in kept}


def test_a_missing_benchmark_file_is_a_spec_error(glanc, tmp_path):
    path = spec(tmp_path, quality="quality: {decontaminate: [nowhere.jsonl]}\n")
    result = glanc("build", str(path), "-q")
    assert result.exit_code == 2
    assert (
        "q.yaml:" in result.stderr and "benchmark file 'nowhere.jsonl' not found" in result.stderr
    )


def test_report_is_one_offline_page_holding_each_plots_data(glanc, tmp_path):
    import re

    path = spec(tmp_path)
    assert glanc("build", str(path), "-q").exit_code == 0
    rows = rows_of(tmp_path / "builds" / "q")
    (tmp_path / "bench.txt").write_text(rows[1]["messages"][0]["content"] + "\n")
    path.write_text(SPEC.format(model="stub", quality="quality: {decontaminate: [bench.txt]}\n"))
    assert glanc("build", str(path), "-q").exit_code == 0
    page = tmp_path / "page.html"
    build = tmp_path / "builds" / "q"
    result = glanc("report", str(build), "-o", str(page))
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "<script src" not in text and "http://" not in text.split("<svg", 1)[0]
    for plot in ("rows_per_subject", "drop_reasons", "lengths", "mix"):
        assert re.search(rf"<figure id={plot}>.*?<svg", text, re.S), plot
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', text, re.S).group(1))
    assert data["rows"] == 12 and len(data["question_words"]) == 12
    assert data["drop_reasons"] == {"contamination": 1}
    assert data["contaminated"][0]["benchmark"] == "bench.txt"
    assert {s["quota"] for s in data["rows_per_subject"]} == {3}
    assert sum(data["levels"].values()) == sum(data["difficulty"].values()) == 12
    again = tmp_path / "again.html"
    assert glanc("report", str(build), "-o", str(again)).exit_code == 0
    assert again.read_bytes() == page.read_bytes()  # the same build draws the same page


def test_the_judge_scores_every_pair_drops_low_scores_and_is_cached(glanc, tmp_path):
    text = SPEC.format(model="stub", quality="quality: {judge: {threshold: 3}, redraws: 6}\n")
    path = tmp_path / "q.yaml"
    path.write_text(text.replace("answerer: stub}", "answerer: stub, judge: stub}"))
    result = glanc("build", str(path), "-q", "--json")
    assert result.exit_code == 0, result.output
    build = tmp_path / "builds" / "q"
    rows, dropped = rows_of(build), rows_of(build, "dropped")
    assert len(rows) == 12 and all(r["judge"]["score"] >= 3 for r in rows)
    judged = [d for d in dropped if d["dropped"]["check"] == "judge"]
    assert judged and all(d["dropped"]["detail"]["score"] < 3 for d in judged)
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["counts"]["nodes"]["judge"] == 12 + len(judged)
    again = glanc("build", str(path), "-q", "--json", "--no-lock")
    assert summary(again)["lm_calls"] == 0  # every judge call came from the store
    assert merged(build).decode() == "".join(
        json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows
    )


def test_a_judge_without_a_model_for_its_role_is_a_spec_error(glanc, tmp_path):
    path = spec(tmp_path, quality="quality: {judge: {threshold: 3}}\n")
    result = glanc("build", str(path), "-q")
    assert result.exit_code == 2 and "set settings.models.judge" in result.stderr


def test_a_benchmark_line_that_is_not_json_is_named_with_its_line(glanc, tmp_path):
    (tmp_path / "bench.jsonl").write_text('{"question": "fine"}\n{not json\n')
    path = spec(tmp_path, quality="quality: {decontaminate: [bench.jsonl]}\n")
    result = glanc("build", str(path), "-q")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "bench.jsonl:2: not a JSON line" in result.stderr
    assert not (tmp_path / "builds" / "q").exists()  # nothing half-written


def test_plan_counts_the_judge_and_estimates_redraws(glanc, tmp_path):
    text = SPEC.format(model="stub", quality="quality: {judge: {threshold: 3}, redraws: 6}\n")
    path = tmp_path / "q.yaml"
    path.write_text(text.replace("answerer: stub}", "answerer: stub, judge: stub}"))
    first = json.loads(glanc("plan", str(path), "--json").stdout)
    judge = first["stages"]["judge"]
    assert judge["estimated"] == first["stages"]["answer"]["estimated"] == 12
    assert first["redraws"] == {"bound": 6, "calls_per_redraw": 3, "last_rate": None,
                                "expected_calls": None}  # no build yet to estimate from
    built = glanc("build", str(path), "-q", "--json")
    manifest = json.loads((tmp_path / "builds" / "q" / "manifest.json").read_text())
    assert built.exit_code == 0 and manifest["quality"]["redraws"] > 0
    again = json.loads(glanc("plan", str(path), "--json").stdout)
    # every judge call the build made, redraws' included: the plan follows each
    # verdict the build filed to the redraw it made
    assert again["stages"]["judge"]["cached"] == manifest["counts"]["nodes"]["judge"] > 12
    assert again["lm_calls"] == 0 and again["redraws"]["expected_calls"] == 0
    # one more subject's questions: its judge calls, and its redraws at the last rate
    path.write_text(path.read_text().replace("questions_per_subject: 3", "questions_per_subject: 4"))
    more = json.loads(glanc("plan", str(path), "--json").stdout)
    questions = more["stages"]["question"]["run"]
    assert questions >= 4 and more["stages"]["answer"]["estimated"] == questions
    assert more["stages"]["judge"]["estimated"] == questions
    rate = manifest["quality"]["redraws"] / manifest["quality"]["first_draw"]["rows"]
    assert more["redraws"]["expected_calls"] == round(rate * questions * 3)
    text_plan = glanc("plan", str(path)).stdout
    assert "quality redraws: not counted above" in text_plan and "judge" in text_plan


def test_rows_decided_by_the_helper_process_give_the_same_bytes(glanc, tmp_path, monkeypatch):
    """Past INLINE_ROWS rows, a helper process decides them in batches: the build
    must write exactly what deciding them inline writes, drops and redraws included,
    and so must one that waits for verdicts past HELD rows at the helper (Astronomy asks for French: the stub's English rows there are dropped, redrawn
    and dropped again; Physics' rows are kept)."""
    import glanc.quality.gate as gate

    path = spec(tmp_path, "stub", "quality: {redraws: 2}\n")
    path.write_text(path.read_text().replace(
        "      - name: Astronomy\n", "      - name: Astronomy\n        settings: {language: French}\n"))
    outputs = {}
    waits = []  # offers that waited for the helper, holding more than HELD rows
    poll = gate.Gate.poll
    monkeypatch.setattr(gate.Gate, "poll", lambda self, wait=False, least=0: (
        waits.append(least) if least else None, poll(self, wait, least))[1])
    for label, inline, batch, held in (("inline", 10_000, 256, 4096), ("helper", 0, 2, 10_000),
                                       ("held back", 0, 2, 2)):  # fmt: skip
        monkeypatch.setattr(gate, "INLINE_ROWS", inline)
        monkeypatch.setattr(gate, "BATCH", batch)
        monkeypatch.setattr(gate, "HELD", held)
        out = tmp_path / label
        result = glanc("build", str(path), "-q", "--json", "--out", str(out),
                       "--store", str(tmp_path / f"{label}.duckdb"), store=False)
        assert result.exit_code == 4, result.output  # French rows dropped at every draw: short
        build = out / "q"
        outputs[label] = {n: b for n, b in artifact_files(build).items()
                          if n.startswith(("data/", "dropped/"))}  # fmt: skip
        manifest = json.loads((build / "manifest.json").read_text())
        outputs[label]["quality"] = json.dumps(manifest["quality"], sort_keys=True).encode()
    dropped = rows_of(tmp_path / "helper" / "q", "dropped")
    assert len(dropped) == 18 and {d["dropped"]["check"] for d in dropped} == {"language"}
    assert len(rows_of(tmp_path / "helper" / "q")) == 6  # Physics' rows
    assert outputs["helper"] == outputs["inline"] == outputs["held back"]
    assert waits  # the last build waited for verdicts past HELD rows


def test_a_helper_that_dies_mid_build_changes_nothing(glanc, tmp_path, monkeypatch):
    import glanc.quality.gate as gate
    from glanc.quality.verdicts import Helper

    class Dying(Helper):
        batches = 0

        def submit(self, items):
            Dying.batches += 1
            if Dying.batches == 3:
                self._proc.kill()
                self._proc.wait()
            super().submit(items)

    path = spec(tmp_path, "stub", "quality: {redraws: 2}\n")
    path.write_text(path.read_text().replace(
        "      - name: Astronomy\n", "      - name: Astronomy\n        settings: {language: French}\n"))
    outputs = {}
    for label, inline, helper in (("inline", 10_000, Helper), ("dying", 0, Dying)):
        monkeypatch.setattr(gate, "INLINE_ROWS", inline)
        monkeypatch.setattr(gate, "BATCH", 2)
        monkeypatch.setattr(gate, "Helper", helper)
        out = tmp_path / label
        result = glanc("build", str(path), "-q", "--out", str(out),
                       "--store", str(tmp_path / f"{label}.duckdb"), store=False)
        assert result.exit_code == 4, result.output  # French rows dropped at every draw: short
        outputs[label] = {n: b for n, b in artifact_files(out / "q").items()
                          if n.startswith(("data/", "dropped/"))}  # fmt: skip
    assert Dying.batches >= 3  # it did die, after answering some batches
    assert outputs["dying"] == outputs["inline"]


def test_gc_keeps_the_redraws_and_judge_calls_of_the_last_build(glanc, tmp_path):
    """A walk of the graph reaches first draws only; the lock holds the rest."""
    text = SPEC.format(model="stub", quality="quality: {judge: {threshold: 3}, redraws: 6}\n")
    path = tmp_path / "q.yaml"
    path.write_text(text.replace("answerer: stub}", "answerer: stub, judge: stub}"))
    built = glanc("build", str(path), "-q", "--json")
    assert built.exit_code == 0 and summary(built)["stages"]["judge"]["run"] > 12  # redraws
    assert glanc("gc", str(path)).exit_code == 0
    again = glanc("build", str(path), "-q", "--json", "--no-lock")
    assert summary(again)["lm_calls"] == 0


def test_plan_of_a_judge_turned_on_after_a_build_counts_one_call_a_row(glanc, tmp_path):
    path = tmp_path / "q.yaml"
    text = SPEC.format(model="stub", quality="")
    path.write_text(text.replace("answerer: stub}", "answerer: stub, judge: stub}"))
    assert glanc("build", str(path), "-q").exit_code == 0
    path.write_text(path.read_text().replace("taxonomy:\n", "quality: {judge: {threshold: 3}}\ntaxonomy:\n", 1))
    plan = json.loads(glanc("plan", str(path), "--json").stdout)
    judge = plan["stages"]["judge"]
    assert (judge["run"], judge["estimated"]) == (12, 0) and plan["lm_calls"] == 12


def test_near_duplicates_are_dropped_redrawn_and_the_same_bytes_at_any_concurrency(
    glanc, tmp_path, fake_server
):
    """Every question the same (the fake server's constant question), the row checks
    off: each row but the one with the earliest id is a near-duplicate of it, dropped
    naming it, and redrawn; the redraw repeats it again and its slot is left short.
    The near-duplicate index lives on disk between rounds, with each row's redraw."""
    base = fake_server(constant="question")
    model = f"{{id: openai/fake, api_base: '{base}', timeout: 5, max_retries: 1}}"
    off = ", ".join(f"{check}: false" for check in (*CHECKS, *STAGE_CHECKS))
    path = tmp_path / "q.yaml"
    quality = f"quality: {{redraws: 1, checks: {{{off}}}}}\n"
    path.write_text(SPEC.format(model=model, quality=quality).replace("seed: 7\n", "seed: 7\ntemplate: json\n"))
    builds = []
    for i, concurrency in enumerate(("1", "8")):
        out = tmp_path / f"out{i}"
        result = glanc("build", str(path), "-q", "--concurrency", concurrency, "--out", str(out),
                       "--store", str(tmp_path / f"s{i}.duckdb"), store=False)  # fmt: skip
        assert result.exit_code == 4, result.output  # every node done, the quota left short
        assert result.stderr.splitlines() == [
            "short: 11 row(s) of the quota are missing (the quality checks dropped every redraw "
            "of them, or of their subject or syllabus); manifest.json's quality.short lists them "
            "with reasons: raise quality.redraws or relax a check"]  # -q keeps the warning, not the summary line
        builds.append(artifact_files(out / "q"))
    assert builds[0] == builds[1]
    build = tmp_path / "out0" / "q"
    rows, dropped = rows_of(build), rows_of(build, "dropped")
    assert len(rows) == 1 and rows[0]["messages"][0]["content"] == "the same question for everyone"
    assert len(dropped) == 22  # the 11 other rows, at their first draw and at their redraw
    assert {d["dropped"]["check"] for d in dropped} == {"near_duplicate"}
    assert {d["dropped"]["detail"]["kept"] for d in dropped} == {rows[0]["id"]}
    assert sorted(d["dropped"]["draw"] for d in dropped) == [0] * 11 + [1] * 11
    assert json.loads((build / "manifest.json").read_text())["complete"] is False
    manifest = json.loads((build / "manifest.json").read_text())["quality"]
    assert manifest["redraws"] == 11 and len(manifest["short"]) == 11
    assert manifest["first_draw"] == {"rows": 12, "passed": 1}
    # the plan follows each filed near-duplicate verdict to its redraw: every node the
    # build used is cached, and nothing is left to run
    plan = json.loads(glanc("plan", str(path), "--json", "--out", str(tmp_path / "out0"),
                            "--store", str(tmp_path / "s0.duckdb"), store=False).stdout)
    nodes = json.loads((build / "manifest.json").read_text())["counts"]["nodes"]
    assert plan["lm_calls"] == 0
    assert {stage: s["cached"] for stage, s in plan["stages"].items()} == nodes
