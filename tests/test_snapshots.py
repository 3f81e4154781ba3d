"""Snapshot tests (snapshottest): golden prompts, a plan, a diff, a stub build.

A snapshot that is missing is written by the run, and CI fails on the file it
leaves behind (the README's test command ends with a clean-tree check); a
snapshot that changed fails the test. Update on purpose with
``pytest --snapshot-update`` and review the diff.
"""

import json
from pathlib import Path

from conftest import ROOT, SPECS, merged

from glanc.artifact.diff import diff_datasets, render_markdown
from glanc.lm import programs
from glanc.recipe.graph import Graph
from glanc.specs.resolve import load_taxonomy

SYLLABUS = {"sessions": [
    {"name": "Vectors", "description": "Quantities with direction.",
     "key_concepts": ["vector addition", "unit vectors", "dot product"]},
    {"name": "Kinematics", "description": "Motion without its causes.",
     "key_concepts": ["velocity", "acceleration"]},
]}


def messages(stage: str, inputs: dict, taxonomy) -> list[dict]:
    import dspy

    template = taxonomy.template.stage(stage)
    return dspy.JSONAdapter().format(programs.signature(template), demos=[], inputs=inputs)


def test_golden_prompts_per_stage(snapshot):
    taxonomy = load_taxonomy(SPECS / "good" / "tiny.yaml")
    graph = Graph(taxonomy)
    physics, chemistry = taxonomy.disciplines
    subjects = graph.subjects_nodes(physics)[0]
    syllabus = graph.syllabus_node(chemistry, chemistry.pinned_subjects[0])
    question = graph.syllabus_done(syllabus, SYLLABUS)[0]
    answer = graph.answer_node(question, {"question": "Add the vectors (1, 2) and (3, -1)."})
    for node in (subjects, syllabus, question, answer):
        snapshot.assert_match(messages(node.stage, node.inputs, taxonomy), node.stage)


def test_golden_plain_text_prompts_per_stage(snapshot):
    """The default template's chats: instructions, the example turn, the prompt;
    no JSON and no field names."""
    taxonomy = load_taxonomy(ROOT / "taxonomies" / "science.yaml")
    graph = Graph(taxonomy)
    physics = taxonomy.disciplines[0]
    subjects = graph.subjects_nodes(physics)[1]
    syllabus = graph.syllabus_node(physics, graph.merge_subjects(
        physics, [{"subjects": [{"name": "Classical Mechanics"}]}, {"subjects": []}])[0])
    question = graph.syllabus_done(syllabus, SYLLABUS)[-1]
    answer = graph.answer_node(question, {"question": "Add the vectors (1, 2) and (3, -1)."})
    for node in (subjects, syllabus, question, answer):
        template = taxonomy.template.stage(node.stage)
        adapter = programs.adapter_for(template)
        chat = adapter.format(programs.signature(template), demos=[], inputs=node.inputs)
        assert not any("{" in m["content"] or "JSON" in m["content"] for m in chat)
        snapshot.assert_match(chat, f"text-{node.stage}")


def test_the_memoising_adapter_writes_what_dspys_writes(tiny):
    """glanc's adapter computes the system message and response schema once per
    signature; twice over, they are DSPy's JSONAdapter's, byte for byte."""
    import dspy

    from glanc.lm.stub import StubEngine

    lm = dspy.LM("local/stub", engine=StubEngine(), cache=False)
    plain, memo = dspy.JSONAdapter(), programs.adapter()
    for _, template in load_taxonomy(tiny).template.stages:
        sig = programs.signature(template)
        inputs = {f.name: f"some {f.name}" for f in template.inputs}
        for _ in range(2):
            assert memo.format(sig, demos=[], inputs=inputs) == plain.format(sig, [], inputs)
            expected, got = {}, {}
            plain._prepare_response_format(lm, expected, sig)
            memo._prepare_response_format(lm, got, sig)
            # a pydantic model class, made afresh per call by DSPy: compare its schema
            schema = got["response_format"].model_json_schema()
            assert schema == expected["response_format"].model_json_schema()
            assert sorted(schema["properties"]) == sorted(f.name for f in template.outputs)


def test_plan_of_the_science_taxonomy(glanc, snapshot):
    result = glanc("plan", str(ROOT / "taxonomies" / "science.yaml"), "--no-lock", "--all")
    assert result.exit_code == 0, result.output
    snapshot.assert_match(result.stdout, "text")
    as_json = glanc("plan", str(ROOT / "taxonomies" / "science.yaml"), "--no-lock", "--json")
    snapshot.assert_match(json.loads(as_json.stdout), "json")


def stub_build(glanc, spec: Path, out: str) -> Path:
    result = glanc("build", str(spec), "-q", "--out", out, store=False)
    assert result.exit_code == 0, result.output
    return Path(out) / "tiny"


def test_stub_build_and_diff_of_two_builds(glanc, tiny, tmp_path, monkeypatch, snapshot):
    monkeypatch.chdir(tmp_path)
    first = stub_build(glanc, tiny, "old")
    # the rows merged by id (the snapshot of the single file they were before shards)
    snapshot.assert_match(merged(first).decode(), "build dataset.jsonl")
    for name in ("manifest.json", "README.md"):
        snapshot.assert_match((first / name).read_text(), f"build {name}")

    template = (ROOT / "glanc" / "templates" / "json.yaml").read_text()
    (tmp_path / "mine.yaml").write_text(template.replace("expert tutor", "kind tutor"))
    text = tiny.read_text().replace("template: json", "template: mine.yaml")
    tiny.write_text(text.replace("      - name: Chemistry\n", "      - name: Biology\n      - name: Chemistry\n"))
    second = stub_build(glanc, tiny, "new")
    diff = diff_datasets(first, second, samples=1,
                         old_label="old/tiny", new_label="new/tiny")
    assert (diff.added, diff.removed, diff.changed) == (6, 0, 9)
    snapshot.assert_match(render_markdown(diff), "diff markdown")
