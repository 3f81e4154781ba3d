"""The stage checks (``glanc.recipe.vet``) on crafted subjects and syllabi: what
they merge, what they drop, and the redraws a drop makes, through the same
``Expander`` the build and the plan walk."""

from pathlib import Path

from glanc import load_taxonomy
from glanc.recipe.expand import Expander
from glanc.recipe.graph import Graph
from glanc.recipe.vet import same_subject, vet_sessions

SPEC = """glanc: 1
name: v
seed: 3
settings:
  models: {{generator: stub, answerer: stub}}
  subject_samples: 2
  subjects_per_sample: 2
  max_subjects: 2
  sessions: 4
  questions_per_subject: 2
quality: {quality}
taxonomy:
  - name: Social Sciences
    children:
      - name: Economics
      - name: History
"""


def setup(tmp_path: Path, quality: str = "{redraws: 2}"):
    path = tmp_path / "v.yaml"
    path.write_text(SPEC.format(quality=quality))
    taxonomy = load_taxonomy(path)
    graph = Graph(taxonomy)
    expander = Expander(graph)
    roots = expander.roots(taxonomy.disciplines)
    return taxonomy, graph, expander, roots


def subjects(*names):
    return {"subjects": [{"name": n} for n in names]}


def finish_subjects(expander, roots, discipline, *replies):
    nodes = [n for n in roots if n.discipline.name == discipline]
    out = []
    for node, reply in zip(nodes, replies, strict=True):
        out += expander.children(node, reply)
    return out


def test_same_subject_on_both_sides():
    assert same_subject("Music History", "History of Western Music")
    assert same_subject("Macroeconomic Theory", "Macroeconomic Theory and Policy")
    assert same_subject("Food and Beverage", "Food and Beverage Industry")
    assert same_subject("Algebra", "Introduction to Algebra")
    assert not same_subject("Algebra", "Linear Algebra")
    assert not same_subject("Textile Art", "Textile Technology")  # "art": three letters count
    assert not same_subject("Organic Chemistry", "Inorganic Chemistry")
    assert not same_subject("Microeconomics", "Macroeconomics")
    assert not same_subject("Physics of Mechanics", "Physics of Motion")
    # found on the report set, after its figures were taken (QUALITY.md)
    assert same_subject("Calculus", "Calculus and Analysis")
    assert same_subject("Physics", "Physics and Physics of Astronomy")
    assert not same_subject("Chemistry and Physics", "Chemistry of Biology")


def test_repeated_and_self_named_subjects_are_left_out_and_recorded(tmp_path):
    taxonomy, graph, expander, roots = setup(tmp_path)
    economics = taxonomy.disciplines[0]
    out = finish_subjects(
        expander, roots, "Economics",
        subjects("Economics", "Microeconomics"),
        subjects("Economics, including Business Economics", "Labour Economics"),
    )
    assert [n.stage for n in out] == ["syllabus", "syllabus"]
    assert [n.context["subject"].name for n in out] == ["Microeconomics", "Labour Economics"]
    vetoed = [(v.subject, v.check) for v in graph.vetoed(economics)]
    assert vetoed == [("Economics", "subject_name"),
                      ("Economics, including Business Economics", "subject_name")]


def test_a_short_subject_list_is_drawn_again_deterministically(tmp_path):
    def walk():
        taxonomy, graph, expander, roots = setup(tmp_path)
        history = taxonomy.disciplines[1]
        out = finish_subjects(expander, roots, "History",
                              subjects("Music History", "History"),
                              subjects("History of Western Music", "Economics"))
        return graph, expander, history, out

    graph, expander, history, out = walk()
    # one subject left (Music History): a third subjects sample, at the next level
    assert [(n.stage, n.sample) for n in out] == [("subjects", 2)]
    again = walk()[3]
    assert [n.key for n in again] == [n.key for n in out]
    checks = [(v.subject, v.check) for v in graph.vetoed(history)]
    assert ("History", "subject_name") in checks and ("Economics", "subject_name") in checks
    assert ("History of Western Music", "subject_duplicate") in checks
    # its reply is merged with the first two: the subtree is the merged subjects'
    more = expander.children(out[0], subjects("Medieval Europe", "Music History and Culture"))
    assert [n.context["subject"].name for n in more] == ["Music History", "Medieval Europe"]


def test_redraws_stop_at_the_spec_and_the_checks_can_be_turned_off(tmp_path):
    taxonomy, graph, expander, roots = setup(tmp_path, "{redraws: 0}")
    out = finish_subjects(expander, roots, "History",
                          subjects("Music History", "History"), subjects("Music History", "Art"))
    assert [n.context["subject"].name for n in out] == ["Music History", "Art"]
    taxonomy, graph, expander, roots = setup(
        tmp_path, "{checks: {subject_name: false, subject_duplicate: false}}")
    out = finish_subjects(expander, roots, "Economics",
                          subjects("Economics", "Economics and Business"), subjects("Trade"))
    assert [n.context["subject"].name for n in out] == ["Economics", "Trade"]
    assert graph.vetoed(taxonomy.disciplines[0]) == []


SESSIONS = [
    {"name": "Supply and demand", "description": "", "key_concepts": ["supply", "demand"]},
    {"name": "Supply and Demand", "description": "", "key_concepts": ["equilibrium"]},
    {"name": "Markets", "description": "", "key_concepts": ["supply", "price"]},
    {"name": "Money", "description": "", "key_concepts": ["demand"]},
]


def test_sessions_and_concepts_repeated_are_merged():
    kept, why = vet_sessions(SESSIONS, 4)
    assert [(s["name"], s["key_concepts"]) for s in kept] == [
        ("Supply and demand", ["supply", "demand"]), ("Markets", ["price"])]
    assert why is None  # two distinct sessions: half of the four asked
    kept, why = vet_sessions(SESSIONS, 6)
    assert why == ("2 distinct session(s) with key concepts, at least 3 of the 6 asked "
                   "(3 repeated session(s) or key concept(s) left out)")


def test_a_dropped_syllabus_is_drawn_again_then_its_subject_gives_up(tmp_path):
    taxonomy, graph, expander, roots = setup(tmp_path, "{redraws: 1}")
    out = finish_subjects(expander, roots, "Economics",
                          subjects("Trade", "Money"), subjects("Labour", "Taxes"))
    trade = out[0]
    bad = {"sessions": [{"name": "Trade", "key_concepts": ["tariffs"]},
                        {"name": "trade", "key_concepts": ["quotas"]}]}
    again = expander.children(trade, bad)
    assert [(n.stage, n.sample) for n in again] == [("syllabus", 1)]
    assert again[0].key != trade.key and again[0].slot != trade.slot
    assert expander.children(again[0], bad) == []  # no redraws left: no rows
    vetoed = graph.vetoed(taxonomy.disciplines[0])
    assert [(v.stage, v.subject, v.draw) for v in vetoed] == [
        ("syllabus", "Trade", 0), ("syllabus", "Trade", 1)]
    (given_up,) = graph.gave_up(taxonomy.disciplines[0])
    assert given_up[:3] == ("Trade", 0, "syllabus_sessions") and given_up[4] == 2
    good = {"sessions": [{"name": n, "key_concepts": [n.lower()]} for n in ("A b c", "Dd", "Ee")]}
    assert {n.stage for n in expander.children(out[1], good)} == {"question"}


def test_a_subject_copied_from_the_template_example_is_left_out_unless_on_topic(tmp_path):
    taxonomy, graph, expander, roots = setup(tmp_path)
    out = finish_subjects(expander, roots, "History",
                          subjects("History of Western Music", "Ancient Rome"),
                          subjects("Keyboard Skills", "Medieval Europe"))
    # "History of Western Music" shares "history" with its discipline: kept
    assert [n.context["subject"].name for n in out] == ["History of Western Music", "Ancient Rome"]
    assert [(v.subject, v.reason) for v in graph.vetoed(taxonomy.disciplines[1])] == [
        ("Keyboard Skills", "copies the template's example")]


def test_a_subject_named_only_with_its_disciplines_words_is_left_out(tmp_path):
    taxonomy, graph, expander, roots = setup(tmp_path)
    out = finish_subjects(expander, roots, "Economics",
                          subjects("Economics of Economics", "Trade"),
                          subjects("Social Economics", "Labour"))
    assert [n.context["subject"].name for n in out] == ["Trade", "Labour"]
    assert [(v.subject, v.reason) for v in graph.vetoed(taxonomy.disciplines[0])] == [
        ("Economics of Economics", "named as its discipline"),
        ("Social Economics", "named as its discipline")]  # its field is Social Sciences


def test_a_discipline_left_short_of_subjects_lists_its_missing_rows(tmp_path):
    taxonomy, graph, expander, roots = setup(tmp_path, "{redraws: 1}")
    economics = taxonomy.disciplines[0]
    out = finish_subjects(expander, roots, "Economics",
                          subjects("Economics", "Trade"), subjects("Economics"))
    assert [(n.stage, n.sample) for n in out] == [("subjects", 2)]  # the one redraw
    last = expander.children(out[0], subjects("Economics"))
    assert [n.context["subject"].name for n in last] == ["Trade"]
    assert graph.gave_up(economics) == [
        ("", 1, "subject_name", "1 of 2 subjects after 3 subjects sample(s): the others were "
         "left out by the stage checks", 2)]
