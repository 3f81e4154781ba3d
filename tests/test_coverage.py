"""Coverage per node (issue 38) on a small stub build: each subject's share of its
syllabus's key concepts that rows ask about, recomputed here from the artifact's
own files (rows and the lock's syllabus replies), the spec's floors listing the
nodes under them, and the figures kept for a discipline carried over."""

import json
from pathlib import Path

from conftest import rows_of, shards

from glanc.recipe.sampling import clean_sessions
from glanc.recipe.vet import vet_sessions

SPEC = """glanc: 1
name: c
seed: 5
settings:
  models: {{generator: stub, answerer: stub}}
  subject_samples: 2
  subjects_per_sample: 2
  max_subjects: 2
  sessions: 3
  key_concepts: 3
  questions_per_subject: 3
  challenging_ratio: 0.34
quality: {{redraws: 2{floors}}}
taxonomy:
  - name: Science
    children:
      - name: Physics
      - name: Astronomy
"""


def build(glanc, tmp_path: Path, floors: str = ""):
    path = tmp_path / "c.yaml"
    path.write_text(SPEC.format(floors=floors))
    result = glanc("build", str(path), "-q")
    assert result.exit_code == 0, result.output
    return path, tmp_path / "builds" / "c"


def test_coverage_is_what_the_rows_reach_of_each_syllabus(glanc, tmp_path):
    _, out = build(glanc, tmp_path)
    syllabi = {}
    for line in (ln for p in shards(out, "lock") for ln in p.read_text().splitlines()):
        node = json.loads(line)
        if node["stage"] == "syllabus":
            sessions, _ = vet_sessions(clean_sessions(node["output"]), 3)
            syllabi[node["key"]] = sum(len(s["key_concepts"]) for s in sessions)
    reached, taught, rows = {}, {}, {}
    for r in rows_of(out):
        where = (r["discipline"], r["subject"])
        reached.setdefault(where, set()).update(r["key_concepts"])
        taught[where] = syllabi[r["keys"]["syllabus"]]
        rows[where] = rows.get(where, 0) + 1
    assert len(taught) == 4
    manifest = json.loads((out / "manifest.json").read_text())
    for path in sorted((out / "shares").rglob("*.json")):
        share = json.loads(path.read_text())
        figures = share["coverage"]
        discipline = share["discipline"][-1]
        for subject, v in figures["subjects"].items():
            where = (discipline, subject)
            assert (v["rows"], v["reached"], v["key_concepts"]) == (
                rows[where], len(reached[where]), taught[where])
            assert v["share"] == round(len(reached[where]) / taught[where], 3)
        assert figures["rows"] == 6 and figures["challenging"] == round(2 / 6, 3)
        assert figures["challenging_asked"] == 0.34
        assert sum(figures["levels"].values()) == 6
        whole = sum(v["reached"] for v in figures["subjects"].values()) / sum(
            v["key_concepts"] for v in figures["subjects"].values())
        assert manifest["coverage"]["disciplines"][f"Science/{discipline}"]["key_concepts"] == round(whole, 3)
    assert manifest["coverage"]["below"] == []
    assert "## Coverage" in (out / "README.md").read_text()


def test_a_node_under_a_floor_is_listed_and_kept_when_carried(glanc, tmp_path):
    path, out = build(glanc, tmp_path, ", coverage: {key_concepts: 0.99, diversity: 0.999}")
    manifest = json.loads((out / "manifest.json").read_text())
    below = manifest["coverage"]["below"]
    subjects = {(r["discipline"], r["subject"]) for r in rows_of(out)}
    listed = {(b["taxonomy_path"].split("/")[-1], b["subject"]) for b in below
              if b["measure"] == "key_concepts"}
    assert listed == subjects  # no subject of the stub build reaches 99% of its concepts
    assert all(b["value"] < b["least"] for b in below)
    card = (out / "README.md").read_text()
    assert f"{len(below)} node(s) are under the spec's floors" in card
    # a new discipline: the old two are carried over with their figures
    path.write_text(path.read_text() + "      - name: Geology\n")
    again = glanc("build", str(path), "-q", "--json")
    assert json.loads(again.stdout)["carried_over"] == 2
    after = json.loads((out / "manifest.json").read_text())["coverage"]
    assert {k: v for k, v in after["disciplines"].items() if "Geology" not in k} == \
        manifest["coverage"]["disciplines"]
    assert [b for b in after["below"] if "Geology" not in b["taxonomy_path"]] == below


def test_the_report_page_lists_what_the_stage_checks_left_out_and_coverage(glanc, tmp_path):
    """The committed example: its manifest counts the subjects left out by check; the
    page lists each, with its reason, from the shares, and each subject's coverage."""
    import re
    import shutil

    from conftest import ROOT

    build = tmp_path / "science"
    shutil.copytree(ROOT / "builds" / "science", build)
    manifest = json.loads((build / "manifest.json").read_text())
    left_out = manifest["quality"]["vetoed"]
    page = tmp_path / "page.html"
    assert glanc("report", str(build), "-o", str(page)).exit_code == 0
    text = page.read_text()
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', text, re.S).group(1))
    assert len(data["vetoed"]) == sum(left_out.values()) > 0
    assert "named as its discipline" in text and "<h2>Coverage per subject</h2>" in text
    assert {c["discipline"] for c in data["coverage"]} == {
        f"Natural Sciences/{d}" for d in ("Physics", "Chemistry", "Biology")}
