"""Each row check on crafted rows, on both sides of its threshold."""

import pytest

from glanc.quality import checks
from glanc.quality.checks import Echoes
from glanc.specs.resolve import load_template

GOOD_Q = "How does Newton's third law explain the recoil of a rifle when it is fired?"
GOOD_A = ("When the rifle pushes the bullet forward, the bullet pushes the rifle backward with an "
          "equal and opposite force. The rifle is far heavier, so its recoil speed is much smaller "
          "than the bullet's speed, while the momentum of the two stays equal and opposite.")


def row(question=GOOD_Q, answer=GOOD_A, **extra):
    base = {"messages": [{"role": "user", "content": question},
                         {"role": "assistant", "content": answer}],
            "subject": "Classical Mechanics", "discipline": "Physics",
            "sessions": ["Newton's laws"], "key_concepts": ["third law", "momentum"]}
    return {**base, **extra}


@pytest.fixture(scope="module")
def echoes():
    from pathlib import Path
    return Echoes.of(load_template("default", Path(".")))


def verdict(name, r, echoes, **params):
    return checks.CHECKS[name](r, params, echoes)


def test_a_good_row_passes_every_check(echoes):
    for name in checks.CHECKS:
        assert verdict(name, row(), echoes) is None, name


def test_length(echoes):
    assert "question too short" in verdict("length", row(question="Why rifles?"), echoes)
    assert verdict("length", row(question="Why do rifles recoil?"), echoes) is None
    assert "answer too long" in verdict("length", row(), echoes, max_answer_words=10)
    assert "empty answer" in verdict("length", row(answer="  "), echoes)


def test_echo_of_machinery_prompt_and_example(echoes):
    assert "machinery" in verdict("echo", row(answer='{"answer": "x"} is the answer.'), echoes)
    assert "machinery" in verdict("echo", row(question="What are the num_sessions?"), echoes)
    leak = "List 3 subjects taught at the introductory level in the discipline of Physics?"
    assert "echoes the prompt" in verdict("echo", row(question=leak), echoes)
    copied = ("The two keys share their first note but not all their steps, so what does "
              "that mean for a rifle?")
    assert "copies the template's example" in verdict("echo", row(question=copied), echoes)
    assert verdict("echo", row(question="Design a database schema for a rifle range?"),
                   echoes) is None  # the word 'schema' alone is no machinery


def test_refusal(echoes):
    no = "It is not possible to provide a complete answer without additional information."
    assert "refuses" in verdict("refusal", row(answer=no), echoes)
    assert verdict("refusal", row(answer="It is possible: the rifle recoils."), echoes) is None


def test_truncation(echoes):
    assert "mid-sentence" in verdict("truncation", row(answer=GOOD_A + " Because the"), echoes)
    assert verdict("truncation", row(answer="The speed is 340 m/s"), echoes) is None


def test_question_form(echoes):
    statement = "A classic example of a complex problem in physics about gravity."
    assert "neither a question" in verdict("question_form", row(question=statement), echoes)
    assert verdict("question_form", row(question="Explain why a rifle recoils."), echoes) is None


def test_repetition(echoes):
    loop = ("The yeast cake is a type of yeast cake that is made from the yeast cake. "
            "The yeast cake is a type of cake that is made from the yeast cake.")
    assert "repeats itself" in verdict("repetition", row(answer=loop), echoes)
    kidney = "What is the difference between a kidney and a kidney, and a kidney?"
    assert "repeats itself" in verdict("repetition", row(question=kidney), echoes)
    assert verdict("repetition", row(), echoes) is None
    extra = ("Heavier guns kick less because the same momentum gives a heavier body a smaller "
             "speed, which is why hunters prefer heavy rifles for powerful cartridges.")
    echoed = (GOOD_A + " " + extra + " The rifle is far heavier, so its recoil speed is much "
              "smaller than the bullet speed.")  # 86 words, 28% of them in repeated 5-grams
    assert "duplicated n-grams cover 28%" in verdict("repetition", row(answer=echoed), echoes)
    assert verdict("repetition", row(answer=echoed), echoes, max_duplicate_share=0.3) is None


def test_off_topic(echoes):
    chocolate = row(question="What is in a chocolate bar?", answer="Cocoa, sugar and milk fat.")
    assert "shares no word" in verdict("off_topic", chocolate, echoes)
    assert verdict("off_topic", row(question="What is momentum?", answer="Mass times velocity."),
                   echoes) is None


def test_language(echoes):
    french = row(answer="Le fusil recule parce que la balle pousse le fusil vers l'arrière avec "
                        "une force égale et opposée, selon la troisième loi.")
    assert "English" in verdict("language", french, echoes)
    assert verdict("language", french, echoes, language="French") is None  # English only
    cyrillic = row(question="Почему винтовка отдаёт при выстреле?")
    assert "not in English" in verdict("language", cyrillic, echoes)
