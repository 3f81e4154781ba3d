"""``glanc plan`` and ``glanc build`` decide every node through the same code: over
the same store states, the plan's decision for each node it knows is the build's."""

from pathlib import Path

import pytest
from conftest import merged

from glanc import BuildOptions, Workspace, build, load_taxonomy, plan
from glanc.execute.events import Decided
from glanc.plan.select import parse


def decisions_of_plan(taxonomy, workspace, options) -> dict:
    seen = {}
    result = plan(taxonomy, workspace, options,
                  on_decision=lambda node, d: seen.setdefault((node.slot, node.key), d.action))
    return seen, result


def decisions_of_build(taxonomy, workspace, options) -> dict:
    seen = {}

    def observe(event):
        if isinstance(event, Decided):
            seen.setdefault((event.node.slot, event.node.key), event.action)

    result = build(taxonomy, workspace, options, observe)
    return seen, result


def agree(spec: Path, workspace: Workspace, select=(), force=False, exact=False):
    """The plan's and the build's decisions; ``exact``: their call counts must be
    equal even where the plan estimates (every estimate is a spec's count)."""
    taxonomy = load_taxonomy(spec)
    options = BuildOptions(selection=parse(taxonomy, select), force=force, concurrency=4)
    planned, p = decisions_of_plan(taxonomy, workspace, options)
    built, b = decisions_of_build(taxonomy, workspace, options)
    assert planned or p.carried == len(taxonomy.disciplines), "the plan knew no node"
    assert p.carried == (b.carried if not b.up_to_date else p.carried)
    if b.up_to_date:  # the no-op fast path walked nothing: the plan must find nothing to do
        assert set(planned.values()) <= {"cached"} and p.lm_calls == 0
        return planned, planned
    for node, action in planned.items():
        assert built.get(node) == action, (node, action, built.get(node))
    # nothing the plan knows runs beyond what it said, and every call it knew was made
    ran_known = sum(1 for n, a in planned.items() if a == "run")
    assert ran_known == sum(s.run for _, s in p.stages)
    rows_to_run = p.redraws.rows_to_run if p.redraws else 0
    if exact or (not p.has_estimates and not rows_to_run):
        assert b.lm_calls == p.lm_calls
    elif not p.has_estimates:  # rows to run: how many the gate redraws is known after
        bound = rows_to_run * p.redraws.bound * p.redraws.calls_per_redraw
        assert p.lm_calls <= b.lm_calls <= p.lm_calls + bound
    return planned, built


def actions(decisions: dict) -> dict:
    out: dict = {}
    for action in decisions.values():
        out[action] = out.get(action, 0) + 1
    return out


@pytest.fixture
def workspace(tmp_path):
    return Workspace(store=tmp_path / "cache.duckdb", builds=tmp_path / "builds")


def test_plan_and_build_decide_alike_over_every_store_state(tiny, workspace):
    # empty store, with a selection: only Physics runs, Chemistry is skipped
    planned, _ = agree(tiny, workspace, select=("Science/Physics+",))
    assert set(actions(planned)) == {"run", "skipped"}
    # partial store: Physics carried over from the last build unwalked, Chemistry new
    planned, _ = agree(tiny, workspace)
    assert actions(planned) == {"run": 1}  # Chemistry's syllabus (what lies below: estimated)
    # complete store: both disciplines carried over
    planned, _ = agree(tiny, workspace)
    assert set(actions(planned)) <= {"cached"}
    # --force on one stage: every answer reruns, the rest is cached
    planned, built = agree(tiny, workspace, select=("stage:answer",), force=True)
    assert actions(planned) == {"cached": 14, "run": 9} and actions(built) == actions(planned)
    # a changed template: the question stage and what lies below it run again
    template = (Path(__file__).parents[3] / "glanc" / "templates" / "json.yaml").read_text()
    edited = template.replace("teacher writing one homework question", "teacher writing exactly one homework question")
    assert edited != template
    (tiny.parent / "edited.yaml").write_text(edited)
    tiny.write_text(tiny.read_text().replace("template: json", "template: edited.yaml"))
    planned, _ = agree(tiny, workspace, select=("state:modified",))
    assert actions(planned) == {"cached": 5, "run": 9}
    planned, _ = agree(tiny, workspace)
    assert set(actions(planned)) <= {"cached"}



def test_plan_and_build_agree_on_quality_redraws_after_a_forced_selection(tiny, workspace):
    # two questions found in a benchmark are dropped and drawn again; a forced rerun
    # of the answers, outside the questions' stage, leaves their redraws skipped, and
    # the next plan must count the calls the next build makes for them
    import json

    tiny.write_text(tiny.read_text().replace("template: json", "template: default").replace(
        "quality: {enabled: false}", "quality: {redraws: 2}"))
    agree(tiny, workspace)
    rows = merged(workspace.builds / "tiny").decode().splitlines()
    leaked = [json.loads(r)["messages"][0]["content"] for r in rows[:2]]
    (tiny.parent / "bench.jsonl").write_text("".join(
        json.dumps({"question": q}) + "\n" for q in leaked))
    tiny.write_text(tiny.read_text().replace(
        "quality: {redraws: 2}", "quality: {redraws: 2, decontaminate: [bench.jsonl]}"))
    planned, built = agree(tiny, workspace, exact=True)
    assert len(built) > len(planned), "no row was redrawn: the fixture no longer drops any"
    # a third benchmark question while only the answers run: its row's redraw waits
    leaked.append(json.loads(rows[2])["messages"][0]["content"])
    (tiny.parent / "bench.jsonl").write_text("".join(
        json.dumps({"question": q}) + "\n" for q in leaked))
    planned, built = agree(tiny, workspace, select=("stage:answer",), force=True)
    assert "skipped" in actions(built)  # (the new answers' verdicts come with them)
    manifest = json.loads((workspace.builds / "tiny" / "manifest.json").read_text())
    assert manifest["complete"] is False  # a row is missing: the warning says so too
    # the next plan counts that redraw's calls, and the next build makes exactly them
    planned, built = agree(tiny, workspace, exact=True)
    assert "run" in actions(planned)
    planned, built = agree(tiny, workspace, exact=True)
    assert set(actions(planned)) <= {"cached"} and len(planned) == len(built)
