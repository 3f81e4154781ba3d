"""glanc suggest: a model drafts taxonomy nodes into the spec, pending review;
builds leave them out until they are kept; bad input leaves the spec untouched."""

import json
from pathlib import Path

import yaml
from conftest import merged, summary

SPEC = """\
# A small spec for suggest: this comment must survive every edit.
glanc: 1
name: sg
seed: 3
settings:
  models: {generator: stub, answerer: stub}
  subject_samples: 1
  subjects_per_sample: 2
  max_subjects: 2
  sessions: 3
  key_concepts: 2
  questions_per_subject: 2  # two rows a subject
  levels: [introductory]
quality: {enabled: false}
taxonomy:
  - name: Natural Sciences
    description: The sciences of the natural world.
    children:
      - name: Physics
      - name: Chemistry  # a comment on a node
"""


def spec(tmp_path: Path) -> Path:
    path = tmp_path / "sg.yaml"
    path.write_text(SPEC)
    return path


def suggest(glanc, tmp_path, *args):
    return glanc("suggest", *args, "--store", str(tmp_path / "cache.duckdb"))


def children(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text())["taxonomy"][0]["children"]


def rows(tmp_path: Path) -> list[dict]:
    text = merged(tmp_path / "builds" / "sg").decode()
    return [json.loads(line) for line in text.splitlines()]


def test_suggest_adds_pending_nodes_with_provenance_and_keeps_the_file(glanc, tmp_path):
    path = spec(tmp_path)
    result = suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences", "-n", "3",
                     "--json")
    assert result.exit_code == 0, result.output
    out = summary(result)
    assert out["kind"] == "disciplines" and out["lm_calls"] == 3 and len(out["added"]) == 3
    added = children(path)[2:]
    assert len(added) == 3 and all(c["review"] == "pending" for c in added)
    assert all(set(c["suggested"]) >= {"model", "sample", "key"} for c in added)
    assert {c["suggested"]["model"] for c in added} == {"stub"}
    text = path.read_text()
    assert text[: len(SPEC)] == SPEC  # comments, order and layout of what was there: intact
    assert glanc("validate", str(path)).exit_code == 0
    strict = glanc("validate", "--strict", str(path))
    assert strict.exit_code == 2 and "pending review" in strict.stderr
    # a rerun: no model call, the same names, the file as it was
    before = path.read_text()
    again = suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences", "-n", "3",
                    "--json")
    assert again.exit_code == 0 and summary(again)["lm_calls"] == 0
    assert summary(again)["added"] == [] and len(summary(again)["already_suggested"]) == 3
    assert path.read_text() == before


def test_pending_nodes_are_left_out_until_kept(glanc, tmp_path):
    path = spec(tmp_path)
    suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences", "-n", "2")
    built = glanc("build", str(path), "--json", "-q")
    assert built.exit_code == 0
    assert {r["discipline"] for r in rows(tmp_path)} == {"Physics", "Chemistry"}
    plan = json.loads(glanc("plan", str(path), "--json").stdout)
    assert plan["lm_calls"] == 0 and len(plan["pending_review"]["nodes"]) == 2
    per_discipline = summary(built)["lm_calls"] // 2
    assert plan["pending_review"]["lm_calls"] == 2 * per_discipline
    old = tmp_path / "old"
    (tmp_path / "builds" / "sg").rename(old)
    glanc("build", str(path), "-q")  # the same rows again, from the store
    kept = children(path)[2]["name"]
    path.write_text(path.read_text().replace("review: pending", "review: keep", 1))
    plan = json.loads(glanc("plan", str(path), "--json").stdout)
    assert plan["lm_calls"] == per_discipline  # exactly the kept node's calls
    assert plan["pending_review"]["lm_calls"] == per_discipline
    again = glanc("build", str(path), "--json", "-q")
    assert summary(again)["lm_calls"] == per_discipline
    assert {r["discipline"] for r in rows(tmp_path)} == {"Physics", "Chemistry", kept}
    diff = glanc("diff", str(old), str(tmp_path / "builds" / "sg"), "--format", "json")
    added = json.loads(diff.stdout)
    assert added["added"] == 4 and added["removed"] == 0 and added["changed"] == 0
    assert kept in diff.stdout


def test_drop_leaves_out_a_subtree_and_no_key_means_keep(glanc, tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text(SPEC.replace("      - name: Chemistry  # a comment on a node\n", """\
      - name: Chemistry
        review: drop
  - name: Humanities
    review: pending
    children:
      - name: History
""").replace("name: sg", "name: d"))
    result = glanc("build", str(path), "--json", "-q")
    assert result.exit_code == 0 and summary(result)["rows"] == 4  # Physics only
    plan = json.loads(glanc("plan", str(path), "--json").stdout)
    assert plan["pending_review"]["nodes"] == ["Humanities"]
    path.write_text(path.read_text().replace("    review: pending\n", ""))
    result = glanc("build", str(path), "--json", "-q")
    assert summary(result)["rows"] == 8  # Physics and History; Chemistry still dropped
    assert glanc("validate", "--strict", str(path)).exit_code == 0


def test_a_draft_taxonomy_from_scratch_validates_with_every_node_pending(glanc, tmp_path):
    out = tmp_path / "everything.yaml"
    args = ("--new", "everything", "-o", str(out), "--model", "stub", "--fields", "2",
            "--subfields", "2", "--disciplines", "2", "--samples", "2")
    result = suggest(glanc, tmp_path, *args)
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text())
    assert out.read_text().startswith("# Drafted by `glanc suggest --new everything`")
    fields = data["taxonomy"]
    assert len(fields) == 2 and all(len(f["children"]) == 2 for f in fields)
    nodes = [n for f in fields for s in f["children"] for n in (f, s, *s["children"])]
    assert all(n["review"] == "pending" and n["suggested"]["key"] for n in nodes)
    assert glanc("validate", str(out)).exit_code == 0
    assert glanc("validate", "--strict", str(out)).exit_code == 2
    kept = tmp_path / "kept.yaml"
    kept.write_text(out.read_text().replace("review: pending", "review: keep"))
    assert glanc("validate", "--strict", str(kept)).exit_code == 0  # a whole tree to build
    again = suggest(glanc, tmp_path, *args)  # never over an existing file
    assert again.exit_code == 2 and "exists" in again.stderr


def test_bad_input_is_one_line_exit_2_and_the_spec_untouched(glanc, tmp_path, fake_server):
    path = spec(tmp_path)
    before = path.read_text()
    missing = suggest(glanc, tmp_path, str(path), "--under", "Natural Science", "--model", "stub")
    assert missing.exit_code == 2
    assert "no taxonomy node 'Natural Science'; nodes that take children: Natural Sciences" in \
        missing.stderr
    leaf = suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences/Physics",
                   "--model", "stub")
    assert leaf.exit_code == 2 and "is a discipline (a leaf)" in leaf.stderr
    assert "suggest under 'Natural Sciences'" in leaf.stderr
    # every reply a refusal, not a list: retried, then reported
    remote = remote_spec(tmp_path, fake_server(bad_every=1))
    before_remote = remote.read_text()
    refused = suggest(glanc, tmp_path, str(remote), "--under", "Natural Sciences",
                      "--samples", "2")
    assert refused.exit_code == 2
    assert "the model named no disciplines of 'Natural Sciences' in 2 samples" in refused.stderr
    assert "the reply has no numbered list" in refused.stderr and "nothing written" in refused.stderr
    assert remote.read_text() == before_remote
    for result in (missing, leaf, refused):
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert path.read_text() == before


def test_names_already_in_the_tree_are_skipped_or_flagged(glanc, tmp_path):
    path = spec(tmp_path)
    suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences", "-n", "2")
    first = [c["name"] for c in children(path)[2:]]
    # the same names written by hand (no provenance): a rerun must not add them again
    data = path.read_text()
    hand = "\n".join(line for line in data.splitlines() if "suggested:" not in line) + "\n"
    path.write_text(hand)
    result = suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences", "-n", "2",
                     "--json")
    assert result.exit_code == 0
    skipped = {s["name"] for s in summary(result)["skipped"]}
    assert set(first) <= skipped
    assert f"skipped {first[0]!r}: already a child of Natural Sciences" in result.stderr
    names = [c["name"] for c in children(path)]
    assert len(names) == len(set(names)) == 6


def test_a_name_used_elsewhere_in_the_tree_is_added_with_a_note(glanc, tmp_path):
    path = spec(tmp_path)
    suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences", "-n", "1")
    name = children(path)[2]["name"]
    # the same name, by hand, under another field; not among Natural Sciences' children
    path.write_text(SPEC + f"  - name: Other\n    children:\n      - name: {name}\n")
    result = suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences", "-n", "1",
                     "--json")
    assert result.exit_code == 0 and summary(result)["lm_calls"] == 0
    added = children(path)[2]
    assert added["name"] == name and f"the same name as Other/{name}" in added["suggested"]["note"]
    assert glanc("validate", str(path)).exit_code == 0  # pending: left out, no clash yet
    path.write_text(path.read_text().replace("review: pending", "review: keep"))
    clash = glanc("validate", str(path))
    assert clash.exit_code == 2 and "already defined" in clash.stderr


def remote_spec(tmp_path: Path, base: str) -> Path:
    path = tmp_path / "remote.yaml"
    model = f"{{id: openai/fake, api_base: '{base}', timeout: 5, max_retries: 1}}"
    path.write_text(SPEC.replace("generator: stub", f"generator: {model}"))
    return path


def test_suggest_through_a_remote_model(glanc, tmp_path, fake_server):
    """An OpenAI-compatible server (the fake one, answering in the example's shape)."""
    path = remote_spec(tmp_path, fake_server())
    result = suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences", "-n", "2",
                     "--json")
    assert result.exit_code == 0, result.output
    added = children(path)[2:]
    assert len(added) == 2 and {c["suggested"]["model"] for c in added} == {"openai/fake"}
    assert glanc("validate", str(path)).exit_code == 0


def test_gc_keeps_the_calls_behind_the_suggested_nodes(glanc, tmp_path):
    path = spec(tmp_path)
    suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences", "-n", "2")
    assert glanc("gc", str(path)).exit_code == 0
    again = suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences", "-n", "2", "--json")
    assert summary(again)["lm_calls"] == 0


def test_a_child_named_after_its_parent_is_skipped():
    """The embedded model drafted 'Telecommunications' under 'Telecommunications'; the
    stub cannot be steered to a name, so this asks the rule itself."""
    from glanc.tasks.suggest import _usable

    assert "the name of the node itself" in _usable("Natural  sciences", ("Natural Sciences",))
    assert _usable("Astronomy", ("Natural Sciences",)) is None


def test_pending_suggestions_leave_the_committed_build_up_to_date(glanc, tmp_path):
    """A pull request that only adds suggestions passes glanc check: the artifact
    (rows, manifest, card) is what the spec builds, and pending nodes build nothing."""
    path = spec(tmp_path)
    assert glanc("build", str(path), "-q").exit_code == 0
    suggest(glanc, tmp_path, str(path), "--under", "Natural Sciences", "-n", "2")
    assert glanc("check", str(path)).exit_code == 0
    path.write_text(path.read_text().replace("review: pending", "review: drop"))
    assert glanc("check", str(path)).exit_code == 0
    path.write_text(path.read_text().replace("review: drop", "review: keep", 1))
    stale = glanc("check", str(path))
    assert stale.exit_code == 1 and "out of date" in stale.output
