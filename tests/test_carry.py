"""A change costs what it changes: a build carries each unchanged discipline over
from the last one, files and counts, without walking its nodes, and its
artifact is byte for byte what a build from scratch of the same spec writes."""

import json
import shutil
from pathlib import Path

import pytest
from conftest import artifact_files, rows_of, same_files, summary

from glanc.specs.types import CHECKS

SPEC = """glanc: 1
name: grow
seed: 5
settings:
  models: {generator: stub, answerer: stub}
  subject_samples: 1
  subjects_per_sample: 2
  max_subjects: 2
  questions_per_subject: 2
taxonomy:
  - name: Natural Sciences
    children:
      - name: Physics
      - name: Chemistry
  - name: Humanities
    children:
      - name: History
"""


@pytest.fixture
def grow(tmp_path: Path) -> Path:
    path = tmp_path / "grow.yaml"
    path.write_text(SPEC)
    return path


def from_scratch(glanc, spec: Path, tmp_path: Path) -> Path:
    """The same spec built with a fresh store into a fresh directory."""
    out, store = tmp_path / "scratch", tmp_path / "scratch.duckdb"
    shutil.rmtree(out, ignore_errors=True)
    store.unlink(missing_ok=True)
    result = glanc("build", str(spec), "-q", "--out", str(out), "--store", str(store),
                   store=False)  # fmt: skip
    assert result.exit_code in (0, 4), result.output
    return out / spec.stem


def template_changed(text: str, tmp_path: Path) -> str:
    """A copy of the default template with the answer stage's instructions changed:
    a change that touches every discipline."""
    import glanc

    source = (Path(glanc.__file__).parent / "templates" / "default.yaml").read_text()
    marker = "    instructions: >-\n"
    at = source.rindex(marker) + len(marker)
    (tmp_path / "mine.yaml").write_text(source[:at] + "      Answer briefly.\n" + source[at:])
    return text.replace("seed: 5\n", "seed: 5\ntemplate: mine.yaml\n")


EDITS = {
    # name: (edit of the spec's text, disciplines carried over of the 3 built before)
    "added": (lambda t, p: t + "      - name: Philosophy\n", 3),
    "removed": (lambda t, p: t.replace("      - name: Chemistry\n", ""), 2),
    "renamed": (lambda t, p: t.replace("name: Chemistry", "name: Chemical Sciences"), 2),
    "settings": (lambda t, p: t.replace("      - name: History\n", "      - name: History\n"
                                        "        settings: {questions_per_subject: 3}\n"), 2),
    "template": (template_changed, 0),
    "named_after": (lambda t, p: t + "  - name: Mechanics\n", None),  # see the test
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_incremental_build_is_the_from_scratch_build(glanc, grow, tmp_path, edit):
    change, carried = EDITS[edit]
    first = summary(glanc("build", str(grow), "-q", "--json"))
    assert first["carried_over"] == 0 and first["rows"] == 12
    grow.write_text(change(grow.read_text(), tmp_path))
    plan = json.loads(glanc("plan", str(grow), "--json").stdout)
    result = glanc("build", str(grow), "-q", "--json")
    assert result.exit_code == 0, result.output
    built = summary(result)
    if carried is not None:
        assert built["carried_over"] == plan["carried_over"] == carried
    assert built["lm_calls"] == plan["lm_calls"]  # plan = build, with disciplines carried
    same_files(tmp_path / "builds" / "grow", from_scratch(glanc, grow, tmp_path))
    again = summary(glanc("build", str(grow), "-q", "--json"))
    assert again["up_to_date"] and again["lm_calls"] == 0


def test_a_new_node_named_like_a_subject_of_an_old_discipline_walks_that_discipline(
    glanc, grow, tmp_path
):
    """A subject named after another node of the taxonomy is left out: a node added
    with the name of a carried discipline's subject changes that discipline."""
    glanc("build", str(grow), "-q")
    out = tmp_path / "builds" / "grow"
    subject = rows_of(out)[0]["subject"]
    owner = rows_of(out)[0]["taxonomy_path"]
    grow.write_text(grow.read_text() + f"  - name: {subject}\n")
    built = summary(glanc("build", str(grow), "-q", "--json"))
    assert built["carried_over"] == 2  # the discipline whose subject it names is walked
    assert subject not in {r["subject"] for r in rows_of(out) if r["taxonomy_path"] == owner}
    same_files(out, from_scratch(glanc, grow, tmp_path))


def test_a_hand_edited_shard_is_not_carried_over_but_built_again(glanc, grow, tmp_path):
    glanc("build", str(grow), "-q")
    out = tmp_path / "builds" / "grow"
    before = artifact_files(out)
    shard = out / "data" / "natural-sciences" / "physics.jsonl"
    shard.write_text(shard.read_text().replace("?", "!", 1))
    built = summary(glanc("build", str(grow), "-q", "--json"))
    assert built["carried_over"] == 2 and built["lm_calls"] == 0
    assert artifact_files(out) == before


SAME = """glanc: 1
name: same
seed: 7
template: json
settings:
  models: {{generator: {model}, answerer: {model}}}
  subject_samples: 1
  subjects_per_sample: 2
  max_subjects: 2
  questions_per_subject: 2
quality: {{redraws: 1, checks: {{{off}}}}}
taxonomy:
  - name: Science
    children:
{children}"""


@pytest.mark.parametrize("edit", ["added", "removed"])
def test_a_near_duplicate_pair_across_old_and_new_disciplines(
    glanc, tmp_path, fake_server, edit
):
    """Every question the same: one row of the whole build is kept, the earliest
    id, and every other one is dropped as its near-duplicate. Adding a discipline
    (its rows may be earlier) or removing the one that holds the kept row changes
    the verdicts of carried disciplines' rows: the build walks every discipline,
    and writes what a build from scratch writes."""
    base = fake_server(constant="question")
    model = f"{{id: openai/fake, api_base: '{base}', timeout: 5, max_retries: 1}}"
    off = ", ".join(f"{check}: false" for check in CHECKS)
    names = ["Physics", "Chemistry", "Biology"]

    def write(children: list[str]) -> Path:
        path = tmp_path / "same.yaml"
        body = "".join(f"      - name: {n}\n" for n in children)
        path.write_text(SAME.format(model=model, off=off, children=body))
        return path

    spec = write(names[:2] if edit == "added" else names)
    assert glanc("build", str(spec), "-q").exit_code == 4  # the quota left short
    out = tmp_path / "builds" / "same"
    if edit == "added":
        write(names)
    else:
        holder = rows_of(out)[0]["discipline"]
        write([n for n in names if n != holder])
    result = glanc("build", str(spec), "-q", "--json")
    assert result.exit_code == 4, result.output
    assert summary(result)["carried_over"] == 0
    same_files(out, from_scratch(glanc, spec, tmp_path))
    assert len(rows_of(out)) == 1


def test_a_share_naming_a_file_outside_its_shard_is_not_carried_and_nothing_leaves(
        glanc, grow, tmp_path):
    """A share (and the manifest beside it) may come from a pull request: one that
    lists "../" paths is not read as a share, so its discipline is walked, and no
    file outside the build directory is read into it or written."""
    glanc("build", str(grow), "-q")
    out = tmp_path / "builds" / "grow"
    before = artifact_files(out)
    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"secret": 1}\n')
    name = "../../outside.jsonl"
    listing = {"sha256": __import__("hashlib").sha256(outside.read_bytes()).hexdigest(),
               "lines": 1}  # fmt: skip
    share_path = out / "shares" / "natural-sciences" / "physics.json"
    share = json.loads(share_path.read_text())
    share["files"][name] = listing
    share_path.write_text(json.dumps(share, indent=1, sort_keys=True) + "\n")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][name] = listing
    manifest["files"]["shares/natural-sciences/physics.json"] = {
        "sha256": __import__("hashlib").sha256(share_path.read_bytes()).hexdigest(),
        "lines": share_path.read_text().count("\n")}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    built = summary(glanc("build", str(grow), "-q", "--json"))
    assert built["carried_over"] == 2 and built["lm_calls"] == 0  # Physics walked
    assert artifact_files(out) == before  # the build's own files, and nothing else
    assert outside.read_text() == '{"secret": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".jsonl") == ["outside.jsonl"]


def test_a_manifest_over_a_mebibyte_still_carries_every_discipline_over(glanc, grow, tmp_path):
    """About 500 bytes a discipline: a 2,100-discipline build's manifest passes 1 MiB,
    and read as none there, every build walked everything. With 2 MiB more in it,
    it is read, and all three disciplines are carried."""
    glanc("build", str(grow), "-q")
    manifest = tmp_path / "builds" / "grow" / "manifest.json"
    padded = manifest.read_bytes().replace(b"{", b'{"padding": "' + b"x" * (2 << 20) + b'", ', 1)
    manifest.write_bytes(padded)
    built = summary(glanc("build", str(grow), "-q", "--json"))
    assert built["carried_over"] == 3 and built["lm_calls"] == 0
