"""Node keys: pinned literals, so any change to the hashing rules is visible."""

import math

import pytest

from glanc import load_taxonomy
from glanc.keys import NotJSONError, canonical_json, node_key
from glanc.recipe.graph import Graph


def test_canonical_json_is_sorted_and_compact():
    assert canonical_json({"b": [1, 2.5, None], "a": "é"}) == '{"a":"é","b":[1,2.5,null]}'


@pytest.mark.parametrize("value", [{1, 2}, math.nan, {1: "x"}, object(), b"bytes"])
def test_non_json_values_raise(value):
    with pytest.raises(NotJSONError):
        canonical_json({"v": value})


def test_node_key_literal():
    key = node_key(stage="answer", program={"instructions": "Answer."}, model={"kind": "stub"},
                   decoding={"temperature": 0.7}, inputs={"question": "Why?"}, sample=0)
    assert key == "25e1f302476a7f59afca34446c847b2e5ae7f6c1fd223c88a59e5a41d1dbdddf"


def test_spec_node_keys_literal(tiny):
    graph = Graph(load_taxonomy(tiny))
    physics = next(d for d in graph.taxonomy.disciplines if d.name == "Physics")
    keys = [n.key for n in graph.subjects_nodes(physics)]
    assert keys == PINNED_SUBJECT_KEYS
    chemistry = next(d for d in graph.taxonomy.disciplines if d.name == "Chemistry")
    (subject,) = graph.merge_subjects(chemistry, [])
    assert graph.syllabus_node(chemistry, subject).key == "de32ba305a1668d673a763568fb3736a5a8486d0b98faa38b03a8af0c2516311"


def _keys(path):
    graph = Graph(load_taxonomy(path))
    out = []
    for d in graph.taxonomy.disciplines:
        out += [n.key for n in graph.subjects_nodes(d)]
        out += [graph.syllabus_node(d, s).key for s in graph.merge_subjects(d, [])]
    return sorted(out)


def test_descriptions_and_comments_stay_out_of_keys(tiny):
    before = _keys(tiny)
    text = tiny.read_text().replace("not part of any key", "a different description")
    tiny.write_text("# a new comment\n" + text)
    assert _keys(tiny) == before


def test_a_template_change_changes_keys(tiny, tmp_path):
    from conftest import ROOT

    template = (ROOT / "glanc" / "templates" / "json.yaml").read_text()
    custom = tmp_path / "custom.yaml"
    custom.write_text(template.replace("You are an education expert.", "You are a professor."))
    before = _keys(tiny)
    tiny.write_text(tiny.read_text().replace("template: json", "template: custom.yaml"))
    after = _keys(tiny)
    assert before != after
    # only the subjects stage's prompt changed: the pinned syllabus key is unchanged
    assert len(set(before) & set(after)) == 1


PINNED_SUBJECT_KEYS = [
    "a073b0082807789bef96a4c3c1a1295f1b5918f5dd5c6517dbc164a99fde29a5",
    "049cfba7b06c5cc1693f81788af09e03e9c7561edbaebb856fc2fe76d54bd7de",
]
