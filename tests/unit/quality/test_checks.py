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
    # a question that lost its mark is still a question; a statement about one is not
    unmarked = "How do rifles recoil when a heavy cartridge is fired."
    assert verdict("question_form", row(question=unmarked), echoes) is None
    about = "The question requires students to analyze how rifles recoil."
    assert "neither a question" in verdict("question_form", row(question=about), echoes)


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


def test_repetition_in_short_texts(echoes):
    # a repeated 4-word phrase reads fine; a repeated 5-gram does not
    phrase = "How does a chemical equation work, and how does a chemical process work?"
    assert verdict("repetition", row(question=phrase), echoes) is None
    twice = "What is the law of motion, and what is the law of motion of a rifle?"
    assert "duplicated n-grams" in verdict("repetition", row(question=twice), echoes)
    itself = "What is the difference between a neuron and a neuron?"
    assert "compares a thing with itself" in verdict("repetition", row(question=itself), echoes)
    quoted = 'What is the difference between a "beneficial" and "beneficial" in medicine?'
    assert "compares a thing with itself" in verdict("repetition", row(question=quoted), echoes)
    pair = "What is the difference between a pH scale and a pH meter?"
    assert verdict("repetition", row(question=pair), echoes) is None
    thrice = "How does the system of a rifle system move a system?"
    assert "'system' 3 times" in verdict("repetition", row(question=thrice), echoes)


def test_off_topic(echoes):
    chocolate = row(question="What is in a chocolate bar?", answer="Cocoa, sugar and milk fat.")
    assert "shares no word" in verdict("off_topic", chocolate, echoes)
    assert verdict("off_topic", row(question="What is momentum?", answer="Mass times velocity."),
                   echoes) is None
    # crude stems join a word family: 'neuron' meets 'neurotransmitters'
    neuron = row(question="How does a neuron fire?", answer="It sends a spike down its axon.",
                 subject="Cells", sessions=["Signals"], key_concepts=["neurotransmitters"])
    assert verdict("off_topic", neuron, echoes) is None
    # the gate passes the whole syllabus: a concept not sampled for this row counts
    axon = row(question="How does an axon carry a spike?", answer="By ion channels opening.")
    assert "shares no word" in verdict("off_topic", axon, echoes)
    syllabus = [{"name": "Nerve cells", "key_concepts": ["axon", "synapse"]}]
    assert verdict("off_topic", axon, echoes, topic=checks.topic(axon, syllabus)) is None


def test_language(echoes):
    french = row(answer="Le fusil recule parce que la balle pousse le fusil vers l'arrière avec "
                        "une force égale et opposée, selon la troisième loi.")
    assert "in French, not English" in verdict("language", french, echoes)
    en_francais = {**french, "messages": [
        {"role": "user", "content": "Pourquoi le fusil recule-t-il quand on tire une balle?"},
        french["messages"][1]]}
    assert verdict("language", en_francais, echoes, language="French") is None
    assert verdict("language", en_francais, echoes, language="fr") is None  # a code will do
    assert "question is in English, not French" in verdict("language", french, echoes,
                                                           language="French")
    assert "in English, not German" in verdict("language", row(), echoes, language="German")
    cyrillic = row(question="Почему винтовка отдаёт при выстреле?")
    assert "in Russian, not English" in verdict("language", cyrillic, echoes)
    terms = row(answer="rifle recoil momentum bullet mass velocity force gun barrel powder "
                       "cartridge stock trigger")
    assert "does not read as English prose" in verdict("language", terms, echoes)
    # a language glanc cannot name passes (the card says the check knows ~90)
    assert verdict("language", french, echoes, language="Klingon") is None


@pytest.mark.parametrize("question", [
    'The question is: "What is the relationship between chaos theory and probability theory?"',
    'The question asks, "What is the primary goal of AI ethics in design?"',
    "This question requires you to explain the role of tariffs in trade.",
    "Here is a homework question: how do tariffs change the price of imports?",
    "Question: How do tariffs change the price of imports?",
    '"How do tariffs change the price of imports for a small country?"',
    "How do tariffs change the price of imports?\nAnswer: They raise it by the tariff.",
    "The question tests the ability to think critically about tariffs and their effects?",
    'The student asks, "If a country sets a tariff, who pays it in the end?"',
    "A guest speaker will provide you with a question on trade. What is a tariff?",
    'The question is "What materials are used to build a house that lasts?"',  # report set
    "The question would test your logic. Can you explain what a tariff is?",  # report set
])
def test_framing_drops_a_question_that_talks_about_itself(echoes, question):
    assert "question frames itself" in verdict("framing", row(question=question), echoes)


def test_framing_drops_chat_that_is_not_homework(echoes):
    chat = "I'd love to hear about your favorite music-making tools. Which one do you use?"
    assert "chat, not homework" in verdict("framing", row(question=chat), echoes)


@pytest.mark.parametrize("question", [
    GOOD_Q,
    "What question did Descartes ask about doubt, and how did he answer it?",
    'Why does Hamlet ask "To be or not to be?" in the third act?',
    "Explain why the question of free will matters to ethics.",
    "How does the question of free will relate to determinism?",
])
def test_framing_keeps_a_question_that_asks(echoes, question):
    assert verdict("framing", row(question=question), echoes) is None


def test_restatement(echoes):
    q = "What is the relationship between chaos theory and probability theory?"
    said_back = "The relationship between chaos theory and probability theory is a relationship."
    assert "answer restates the question (0 new" in verdict(
        "restatement", row(question=q, answer=said_back), echoes)
    asked_back = "What is the relationship between chaos theory and probability theory in physics?"
    assert "restates" in verdict("restatement", row(question=q, answer=asked_back), echoes)
    answered = ("Chaos theory studies deterministic systems whose outcomes depend sensitively on "
                "initial conditions; probability describes their long-run statistics.")
    assert verdict("restatement", row(question=q, answer=answered), echoes) is None
    # the threshold is the spec's: three new content words pass at 3, not at 4
    three = "The relationship between chaos theory and probability theory: statistics, ergodicity, measure."
    assert verdict("restatement", row(question=q, answer=three), echoes) is None
    assert "3 new content words, at least 4" in verdict(
        "restatement", row(question=q, answer=three), echoes, min_new_words=4)


def test_a_topic_word_may_recur_in_a_short_question(echoes):
    sleep = ("What is the role of sleep in health, and how does sleep science improve sleep "
             "hygiene practices?")
    assert verdict("repetition", row(question=sleep), echoes) is not None  # not its topic
    on_sleep = row(question=sleep, subject="Sleep Science", key_concepts=["sleep hygiene"])
    assert verdict("repetition", on_sleep, echoes) is None
