"""The pure graph: subject merging and GLAN's per-question sampling."""

from glanc import load_taxonomy
from glanc.recipe.graph import Graph
from glanc.recipe.sampling import clean_sessions, render_syllabus, sample_questions
from glanc.specs.types import Discipline, Settings

SYLLABUS = {
    "sessions": [
        {"name": "Kinematics", "description": "motion", "key_concepts": ["velocity", "acceleration", "displacement"]},
        {"name": "Dynamics", "description": "forces", "key_concepts": ["force", "mass", "Newton's laws"]},
        {"name": "Energy", "description": "work", "key_concepts": ["work", "power"]},
        {"name": "", "description": "nameless sessions are dropped", "key_concepts": ["x"]},
    ]
}


def discipline(n=20, ratio=0.5):
    return Discipline(("Science", "Physics"), Settings(questions_per_subject=n, challenging_ratio=ratio))


def test_every_question_draws_its_own_sample():
    sessions = clean_sessions(SYLLABUS)
    samples = sample_questions(7, discipline(), sessions)
    assert len(samples) == 20
    by_name = {s["name"]: s["key_concepts"] for s in sessions}
    assert [s.difficulty for s in samples].count("challenging") == 10
    for s in samples:
        if s.difficulty == "basic":
            assert len(s.sessions) == 1
            assert 1 <= len(s.key_concepts) <= 5
            assert set(s.key_concepts) <= set(by_name[s.sessions[0]])
        else:
            a, b = s.sessions
            assert a != b
            assert 2 <= len(s.key_concepts) <= 5
            assert set(s.key_concepts) & set(by_name[a]) and set(s.key_concepts) & set(by_name[b])
    assert len({(s.sessions, s.key_concepts) for s in samples}) > 5


def test_sampling_is_deterministic_and_stable_under_growth():
    sessions = clean_sessions(SYLLABUS)
    assert sample_questions(7, discipline(), sessions) == sample_questions(7, discipline(), sessions)
    assert sample_questions(7, discipline(), sessions) != sample_questions(8, discipline(), sessions)
    few = sample_questions(7, discipline(4, 0.0), sessions)
    more = sample_questions(7, discipline(8, 0.0), sessions)
    assert more[:4] == few


def test_one_session_means_basic_questions_only():
    sessions = clean_sessions({"sessions": SYLLABUS["sessions"][:1]})
    assert {s.difficulty for s in sample_questions(1, discipline(6, 1.0), sessions)} == {"basic"}


def test_syllabus_rendering():
    text = render_syllabus(clean_sessions(SYLLABUS))
    assert text.splitlines()[0] == "Session 1: Kinematics - motion"
    assert "Key concepts: force; mass; Newton's laws" in text
    assert "nameless" not in text


def test_subjects_merge_dedups_by_normalised_name_and_caps(tiny):
    graph = Graph(load_taxonomy(tiny))
    physics = next(d for d in graph.taxonomy.disciplines if d.name == "Physics")
    outputs = [
        {"subjects": [{"name": "Classical Mechanics", "level": "intro", "subtopics": ["a"]},
                      {"name": "  ", "level": "", "subtopics": []}]},
        {"subjects": [{"name": "classical  mechanics!", "level": "x", "subtopics": []},
                      {"name": "Optics", "level": "intro", "subtopics": []},
                      {"name": "Thermodynamics", "level": "intro", "subtopics": []}]},
    ]
    merged = graph.merge_subjects(physics, outputs)
    assert [s.name for s in merged] == ["Classical Mechanics", "Optics"]  # max_subjects: 2


def test_pinned_subjects_skip_the_subjects_stage(tiny):
    graph = Graph(load_taxonomy(tiny))
    chemistry = next(d for d in graph.taxonomy.disciplines if d.name == "Chemistry")
    assert graph.subjects_nodes(chemistry) == []
    assert [s.name for s in graph.merge_subjects(chemistry, [])] == ["Organic Chemistry"]


def test_inheritance_merges_models_and_decoding(tmp_path):
    spec = tmp_path / "t.yaml"
    spec.write_text("""
glanc: 1
name: t
settings:
  models: {generator: stub, answerer: stub}
  decoding: {answer: {temperature: 0.2, max_tokens: 50}}
  language: English
taxonomy:
  - name: Field
    settings:
      models: {answerer: {id: stub, latency_ms: 5}}
      decoding: {answer: {max_tokens: 99}}
      language: French
    children:
      - name: Leaf
""")
    (leaf,) = load_taxonomy(spec).disciplines
    assert leaf.settings.model("generator").id == "stub"
    assert leaf.settings.model("answerer").option("latency_ms") == 5
    assert leaf.settings.decoding_for("answer") == {"temperature": 0.2, "max_tokens": 99}
    assert leaf.settings.language == "French"


def test_a_stage_model_wins_over_its_role(tmp_path):
    spec = tmp_path / "t.yaml"
    spec.write_text("""
glanc: 1
name: t
settings:
  models: {generator: stub, answerer: stub}
taxonomy:
  - name: Field
    settings:
      models: {question: {id: stub, latency_ms: 1}}
    children:
      - name: Leaf
""")
    graph = Graph(load_taxonomy(spec))
    (leaf,) = graph.taxonomy.disciplines
    assert graph.model(leaf, "question")[0].ref.option("latency_ms") == 1
    assert graph.model(leaf, "syllabus")[0].ref.option("latency_ms") is None
