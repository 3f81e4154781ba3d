"""dbt-style functional tests: build, edit the spec, plan, assert what will run and
why, build again, and check the build made exactly the model calls the plan said."""

import json
from pathlib import Path

import pytest
from conftest import ROOT, merged, summary

STAGES = ("subjects", "syllabus", "question", "answer")


def plan(glanc, spec: Path, *args: str) -> dict:
    result = glanc("plan", str(spec), "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def build(glanc, spec: Path, *args: str) -> dict:
    result = glanc("build", str(spec), "--json", "-q", *args)
    assert result.exit_code == 0, result.output
    return summary(result)


def todo(p: dict) -> dict:
    """Per stage: (known runs, estimated runs, reasons), only for stages that run."""
    return {
        s: (v["run"], v["estimated"], v["reasons"])
        for s, v in p["stages"].items()
        if v["run"] or v["estimated"]
    }


def edit(spec: Path, old: str, new: str) -> None:
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new))


def test_plan_of_a_fresh_spec_matches_its_build_and_writes_nothing(glanc, tiny, tmp_path):
    p = plan(glanc, tiny)
    assert not (tmp_path / "cache.duckdb").exists()
    # Physics: 2 subjects calls known; below them 2 syllabi, 6 questions, 6 answers estimated.
    # Chemistry's pinned subject: its syllabus is known; 3 questions, 3 answers estimated.
    assert todo(p) == {
        "subjects": (2, 0, {"new": 2}),
        "syllabus": (1, 2, {"new": 3}),
        "question": (0, 9, {"new": 9}),
        "answer": (0, 9, {"new": 9}),
    }
    assert p["lm_calls"] == 23 and p["estimated"] is True
    assert p["tokens"] == {"in": None, "out": None}  # no history yet
    assert build(glanc, tiny)["lm_calls"] == p["lm_calls"]

    again = plan(glanc, tiny)
    assert again["lm_calls"] == 0 and todo(again) == {}
    assert [again["stages"][s]["cached"] for s in STAGES] == [2, 3, 9, 9]


def test_adding_a_discipline_plans_and_runs_only_its_nodes(glanc, tiny):
    build(glanc, tiny)
    tiny.write_text(tiny.read_text() + "      - name: Biology\n")
    p = plan(glanc, tiny)
    assert todo(p) == {
        "subjects": (2, 0, {"new": 2}),
        "syllabus": (0, 2, {"new": 2}),
        "question": (0, 6, {"new": 6}),
        "answer": (0, 6, {"new": 6}),
    }
    assert p["tokens"]["in"] > 0  # estimated from the store's averages now
    s = build(glanc, tiny)
    assert s["lm_calls"] == p["lm_calls"] == 16
    assert s["stages"]["answer"]["cached"] == 9


def test_renaming_a_discipline_reruns_its_subtree_only(glanc, tiny):
    build(glanc, tiny)
    edit(tiny, "- name: Physics", "- name: Astronomy")
    p = plan(glanc, tiny)
    assert todo(p) == {
        "subjects": (2, 0, {"new": 2}),
        "syllabus": (0, 2, {"new": 2}),
        "question": (0, 6, {"new": 6}),
        "answer": (0, 6, {"new": 6}),
    }
    assert [p["stages"][s]["cached"] for s in STAGES] == [0, 1, 3, 3]  # Chemistry
    assert build(glanc, tiny)["lm_calls"] == p["lm_calls"]


def test_changing_the_answer_template_reruns_answers_only(glanc, tiny, tmp_path):
    build(glanc, tiny)
    template = (ROOT / "glanc" / "templates" / "json.yaml").read_text()
    old = "You are an expert tutor."
    assert old in template
    (tmp_path / "mine.yaml").write_text(template.replace(old, "You are a patient tutor."))
    tiny.write_text(tiny.read_text().replace("template: json", "template: mine.yaml"))
    p = plan(glanc, tiny)
    assert todo(p) == {"answer": (9, 0, {"program_changed": 9})}
    assert build(glanc, tiny)["lm_calls"] == p["lm_calls"] == 9


def test_changing_the_model_of_one_subtree_reruns_its_stages_that_use_it(glanc, tiny):
    build(glanc, tiny)
    edit(tiny, "- name: Physics\n", "- name: Physics\n        settings: {models: {answerer: 'stub:other'}}\n")
    p = plan(glanc, tiny)
    assert todo(p) == {"answer": (6, 0, {"model_changed": 6})}
    s = build(glanc, tiny)
    assert s["lm_calls"] == p["lm_calls"] == 6
    assert plan(glanc, tiny)["lm_calls"] == 0


def test_changing_decoding_reruns_with_that_reason(glanc, tiny):
    build(glanc, tiny)
    edit(tiny, "  questions_per_subject: 3\n",
         "  questions_per_subject: 3\n  decoding: {question: {temperature: 0.3}}\n")
    p = plan(glanc, tiny)
    # the questions rerun; the answers below them are new outputs' answers: estimated
    assert todo(p) == {
        "question": (9, 0, {"decoding_changed": 9}),
        "answer": (0, 9, {"upstream_changed": 9}),
    }
    assert build(glanc, tiny)["lm_calls"] == p["lm_calls"] == 18


def test_changing_a_count_reruns_downstream_with_upstream_changed(glanc, tiny):
    build(glanc, tiny)
    edit(tiny, "subjects_per_sample: 3", "subjects_per_sample: 4")
    p = plan(glanc, tiny)
    assert todo(p)["subjects"] == (2, 0, {"upstream_changed": 2})
    assert build(glanc, tiny)["lm_calls"] == p["lm_calls"]


def test_reordering_and_editing_comments_and_descriptions_reruns_nothing(glanc, tiny):
    build(glanc, tiny)
    text = tiny.read_text()
    physics, chemistry = "      - name: Physics\n", text[text.index("      - name: Chemistry"):]
    text = text.replace(physics, "").replace(chemistry, chemistry + physics)
    text = text.replace("not part of any key", "still not part of any key")
    tiny.write_text("# a new comment\n" + text + "# and another\n")
    assert text.index("Chemistry") < text.index("Physics")
    p = plan(glanc, tiny)
    assert p["lm_calls"] == 0 and todo(p) == {}
    assert build(glanc, tiny)["lm_calls"] == 0


def test_failed_nodes_plan_as_failed_before_and_select_as_state_failed(glanc, tiny, tmp_path):
    template = (ROOT / "glanc" / "templates" / "json.yaml").read_text()
    strict = template.replace("answer: {type: string, minLength: 20}",
                              "answer: {type: string, minLength: 200}")
    (tmp_path / "strict.yaml").write_text(strict)
    tiny.write_text(tiny.read_text().replace("template: json", "template: strict.yaml"))
    assert glanc("build", str(tiny), "-q").exit_code == 1
    p = plan(glanc, tiny)
    assert todo(p) == {"answer": (9, 0, {"failed_before": 9})}
    only = plan(glanc, tiny, "--select", "state:failed,Science/Chemistry+")
    assert todo(only) == {"answer": (3, 0, {"failed_before": 3})}
    assert only["stages"]["answer"]["skipped"] == 6


def test_select_runs_only_the_selection_and_the_build_agrees(glanc, tiny, tmp_path):
    build(glanc, tiny)
    template = (ROOT / "glanc" / "templates" / "json.yaml").read_text()
    (tmp_path / "mine.yaml").write_text(template.replace("expert tutor", "kind tutor"))
    tiny.write_text(tiny.read_text().replace("template: json", "template: mine.yaml"))
    p = plan(glanc, tiny, "--select", "Science/Physics+")
    assert todo(p) == {"answer": (6, 0, {"program_changed": 6})}
    assert p["stages"]["answer"]["skipped"] == 3
    result = glanc("build", str(tiny), "--json", "--select", "Science/Physics+")
    assert result.exit_code == 0
    s = summary(result)
    assert s["lm_calls"] == 6 and s["stages"]["answer"]["skipped"] == 3 and s["rows"] == 6
    assert "skipped 3 node(s) outside the selection" in result.stderr
    # excluding is the complement
    rest = plan(glanc, tiny, "--exclude", "Science/Physics+")
    assert todo(rest) == {"answer": (3, 0, {"program_changed": 3})}
    # a discipline alone selects its own calls: here its (cached) subjects calls
    assert plan(glanc, tiny, "--select", "Science/Physics")["lm_calls"] == 0


def test_force_reruns_the_selection_with_new_seeds_and_keeps_old_results(glanc, tiny, tmp_path):
    build(glanc, tiny)
    before = {r["id"]: r for r in map(json.loads, merged(tmp_path / "builds/tiny").decode().splitlines())}
    p = plan(glanc, tiny, "--select", "stage:answer,Science/Chemistry+", "--force")
    assert todo(p) == {"answer": (3, 0, {"forced": 3})}
    s = build(glanc, tiny, "--select", "stage:answer,Science/Chemistry+", "--force")
    assert s["lm_calls"] == 3 and s["rows"] == 9
    after = {r["id"]: r for r in map(json.loads, merged(tmp_path / "builds/tiny").decode().splitlines())}
    changed = {i for i in before if before[i]["messages"] != after[i]["messages"]}
    assert {after[i]["discipline"] for i in changed} == {"Chemistry"} and len(changed) == 3
    import duckdb

    con = duckdb.connect(str(tmp_path / "cache.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), min(rollout) FROM history").fetchone() == (3, 0)
    assert con.execute("SELECT count(*) FROM nodes WHERE rollout = 1").fetchone() == (3,)
    con.close()
    assert plan(glanc, tiny)["lm_calls"] == 0  # the forced results are the current ones


def test_force_with_a_downstream_selection_plans_the_children_too(glanc, tiny):
    build(glanc, tiny)
    sel = ("--select", "stage:question+,Science/Chemistry+", "--force")
    p = plan(glanc, tiny, *sel)
    assert todo(p) == {"question": (3, 0, {"forced": 3}), "answer": (0, 3, {"forced": 3})}
    assert build(glanc, tiny, *sel)["lm_calls"] == p["lm_calls"] == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--force",), "--force needs --select"),
        (("--select", "stage:answers"), "unknown stage 'answers'"),
        (("--select", "Nature/Physics+"), "no taxonomy node 'Nature/Physics'"),
        (("--select", "Science"), "use 'Science+'"),
        (("--select", "state:stale"), "state:new, state:modified or state:failed"),
    ],
)
def test_bad_selection_is_one_clear_line(glanc, tiny, args, message):
    for command in ("plan", "build"):
        result = glanc(command, str(tiny), *args)
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr


def test_plan_text_lists_stages_reasons_and_nodes(glanc, tiny):
    build(glanc, tiny)
    tiny.write_text(tiny.read_text() + "      - name: Biology\n")
    result = glanc("plan", str(tiny))
    assert result.exit_code == 0
    out = result.stdout
    assert "subjects" in out and "new 2" in out
    assert "model calls: ~16 (2 known now, ~14 estimated" in out
    assert out.count("Science/Biology #") == 2


def test_plan_cost_from_model_prices(glanc, tiny):
    build(glanc, tiny)
    edit(tiny, "models: {generator: stub, answerer: stub}",
         "models: {generator: stub, answerer: {id: stub, price: {input: 1000000, output: 0}}}")
    tiny.write_text(tiny.read_text() + "      - name: Biology\n")
    p = plan(glanc, tiny)
    # only answers are priced, so the total stays unknown; the answer stage has a cost:
    # $1 per input token times the store's average input tokens per answer
    assert p["cost"] is None
    answers = p["stages"]["answer"]
    assert answers["cost"] == pytest.approx(answers["tokens"]["in"], rel=1e-3)


def test_selectors_join_words_of_names_with_spaces(tmp_path):
    from glanc.plan.select import parse
    from glanc.specs.resolve import load_taxonomy

    spec = tmp_path / "s.yaml"
    spec.write_text(
        "glanc: 1\nname: s\nsettings: {models: {generator: stub, answerer: stub}}\n"
        "taxonomy:\n  - name: Natural Sciences\n    children:\n"
        "      - name: Earth Science\n      - name: Physics\n"
    )
    taxonomy = load_taxonomy(spec)

    def items(text):
        return [[(a.method, a.value, a.descendants) for a in item]
                for item in parse(taxonomy, (text,)).include]

    assert items("Natural Sciences/Earth Science+ stage:answer") == [
        [("path", ("natural sciences", "earth science"), True)], [("stage", ("answer",), False)]]
    assert items("stage:question+,Natural Sciences+") == [
        [("stage", ("question",), True), ("path", ("natural sciences",), True)]]
    # a subject name runs on until a word starts a taxonomy path; '/' may be inside it
    assert items("Natural Sciences/Physics/Input/Output Devices Natural Sciences/Physics") == [
        [("path", ("natural sciences", "physics", "input output devices"), False)],
        [("path", ("natural sciences", "physics"), False)]]
    assert items("'natural sciences/physics/Natural Philosophy+'") == [
        [("path", ("natural sciences", "physics", "natural philosophy"), True)]]
    sel = parse(taxonomy, ("Natural Sciences/Physics/Optics+",), ("stage:answer",))
    physics = ("natural sciences", "physics")
    assert sel.matches("question", physics + ("optics",))
    assert not sel.matches("answer", physics + ("optics",))
    assert not sel.matches("question", physics + ("mechanics",))
    assert not sel.matches("question", physics)  # subject not known yet
