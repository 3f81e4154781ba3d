"""Spec validation: every bad spec gives located one-line errors and exit 2."""

import re
from pathlib import Path

import pytest
from conftest import ROOT, SPECS

LINE = re.compile(r"^(?P<file>[^:]+\.yaml):(?P<line>\d+):(?P<col>\d+): (?P<path>\$\S*): (?P<msg>.+)$")

EXPECTED = {
    "malformed.yaml": [(5, "$", "malformed YAML")],
    "duplicate_key.yaml": [(3, "$.name", "duplicate key 'name'")],
    "unknown_key.yaml": [
        (5, "$.settings.questons_per_subject", "unknown key 'questons_per_subject'"),
        (8, "$.taxonomy[0].childs", "unknown key 'childs'"),
    ],
    "many_errors.yaml": [
        (1, "$.glanc", "must be 1"),
        (2, "$.name", "is not a valid name"),
        (5, "$.settings.subject_samples", "less than the minimum of 1"),
        (6, "$.settings.challenging_ratio", "greater than the maximum of 1"),
        (9, "$.taxonomy[0].subjects", "non-empty"),
        (10, "$.taxonomy[1]", "'name' is required"),
    ],
    "unknown_model.yaml": [(4, "$.settings.models.generator", "unknown model 'gpt5'")],
    "missing_model_file.yaml": [(4, "$.settings.models.generator", "model file not found")],
    "missing_role.yaml": [(6, "$.taxonomy[0]", "no model for role 'answerer'")],
    "duplicate_discipline.yaml": [(11, "$.taxonomy[1].children[0].name", "already defined at line 8")],
    "missing_template.yaml": [(3, "$.template", "file not found")],
    "batch_model.yaml": [
        (5, "$.settings.models.generator", "cannot go through a Batch API (in-process)"),
    ],
    "batch_schema.yaml": [
        (6, "$.settings.models.answerer.batch.discount", "greater than the maximum of 1"),
    ],
    "bad_template.yaml": [
        (115, "$.stages.syllabus.outputs.sessions.items.properties.key_concepts", "without maxItems"),
        (173, "$.stages.question.inputs.homework_hint", "has no input 'homework_hint'"),
        (199, "$.stages.answer.outputs", "must output 'answer'"),
    ],
}


def test_the_corpus_is_covered():
    assert sorted(EXPECTED) == sorted(p.name for p in (SPECS / "bad").glob("*.yaml")
                                      if p.name != "template_bad_field.yaml")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_spec_reports_every_error_located(glanc, name):
    result = glanc("validate", str(SPECS / "bad" / name))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"{len(EXPECTED[name])} problem(s) found"
    found = []
    for line in lines[:-1]:
        m = LINE.match(line)
        assert m, f"not file:line:col: path: message: {line!r}"
        found.append((int(m["line"]), m["path"], m["msg"]))
    assert len(found) == len(EXPECTED[name])
    for (line, path, msg), (fline, fpath, fmsg) in zip(EXPECTED[name], found, strict=True):
        assert (fline, fpath) == (line, path)
        assert msg in fmsg


def test_template_errors_point_into_the_template_file(glanc):
    result = glanc("validate", str(SPECS / "bad" / "template_bad_field.yaml"))
    assert result.exit_code == 2
    assert all("bad_template.yaml:" in line for line in result.stderr.splitlines()[:-1])


@pytest.mark.parametrize("path", [
    ROOT / "taxonomies" / "science.yaml",
    ROOT / "taxonomies" / "glan.yaml",
    ROOT / "glanc" / "templates" / "default.yaml",
    ROOT / "glanc" / "templates" / "json.yaml",
    SPECS / "good" / "tiny.yaml",
])
def test_shipped_specs_are_valid(glanc, path):
    result = glanc("validate", str(path))
    assert result.exit_code == 0, result.output


def test_glan_taxonomy_holds_the_papers_disciplines():
    from glanc import load_taxonomy

    tax = load_taxonomy(ROOT / "taxonomies" / "glan.yaml")
    shared = ROOT.parent / "shared" / "data" / "glan_disciplines.txt"
    if shared.exists():
        names = [ln.strip() for ln in shared.read_text().splitlines()
                 if ln.strip() and not ln.startswith("#")]
        assert sorted(d.name for d in tax.disciplines) == sorted(names)
    assert len(tax.disciplines) == 123
    assert len({d.path[0] for d in tax.disciplines}) == 8
    s = tax.disciplines[0].settings
    assert s.subject_samples == 10
    assert s.decoding_for("subjects") == {"temperature": 1.0, "top_p": 0.95}


def test_missing_file_is_one_line(glanc, tmp_path: Path):
    result = glanc("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.yaml'}: file not found"


def test_schemas_are_draft_2020_12_with_versioned_ids():
    import json

    for name in ("taxonomy", "template"):
        schema = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith(f"/{name}/v1.json")


@pytest.mark.parametrize("bad, path, message", [
    ("  - name: 'Physics/Optics'", "$.taxonomy[0].children[37].name", "is not a valid name"),
    ("  - name: ''", "$.taxonomy[0].children[37].name", "should be non-empty"),
    ("  - {name: Optics, colour: red}", "$.taxonomy[0].children[37].colour", "unknown key"),
    ("  - name: 7", "$.taxonomy[0].children[37].name", "must be of type string"),
])
def test_a_bad_leaf_among_many_plain_ones_is_located(glanc, tmp_path: Path, bad, path, message):
    """Plain leaves ({name: ...}) are checked apart from jsonschema for speed: a
    bad leaf among them is still found, at its own line."""
    leaves = [f"  - name: Discipline {i}" for i in range(60)]
    leaves[37] = bad
    spec = tmp_path / "many.yaml"
    spec.write_text("glanc: 1\nname: many\nsettings:\n  models: {generator: stub, answerer: stub}\n"
                    "taxonomy:\n- name: Field\n  children:\n" + "\n".join(leaves) + "\n")
    result = glanc("validate", str(spec))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()[:-1]
    found = [(int(m["line"]), m["path"], m["msg"]) for m in map(LINE.match, lines) if m]
    assert len(found) == len(lines) and {(line, p) for line, p, _ in found} == {(8 + 37, path)}
    assert any(message in msg for _, _, msg in found), lines
