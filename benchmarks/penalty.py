"""Does a frequency penalty keep the embedded model from repeating itself?

Answers eight science questions with the default template's answer prompt, once
per penalty, and counts the answers that pass the repetition and truncation
checks (and stopped by themselves).

    python benchmarks/penalty.py
"""

from __future__ import annotations

from pathlib import Path

from llama_cpp import Llama

from glanc.lm import formats
from glanc.lm.engines import llama_threads
from glanc.quality import checks
from glanc.specs.models import embedded_gguf
from glanc.specs.resolve import load_template

QUESTIONS = [
    "What is the difference between the circulatory system and the respiratory system?",
    "What is the Schrödinger equation, and how does it relate to relativity?",
    "What is the chemical equation for the formation of water?",
    "How does the law of electrolysis work?",
    "What is the purpose of the diaphragm in the human body?",
    "How does kinetic friction affect the speed of a rolling wheel?",
    "What is the role of a predator in a food web?",
    "Why do metals conduct electricity?",
]


def main() -> None:
    template = load_template("default", Path("."))
    echoes = checks.Echoes.of(template)
    answer = template.stage("answer")
    llm = Llama(model_path=str(embedded_gguf()), n_ctx=2048, n_threads=llama_threads(),
                verbose=False)  # fmt: skip
    for penalty in (0.0, 0.5, 1.0):
        good = 0
        for seed, question in enumerate(QUESTIONS):
            out = llm.create_chat_completion(
                messages=formats.messages(answer, {"question": question}),
                temperature=0.5, top_p=0.95, max_tokens=400, seed=seed,
                frequency_penalty=penalty,
            )  # fmt: skip
            choice = out["choices"][0]
            row = {"messages": [{"role": "user", "content": question},
                                {"role": "assistant", "content": choice["message"]["content"]}]}
            bad = checks.repetition(row, {}, echoes) or checks.truncation(row, {}, echoes)
            good += bad is None and choice["finish_reason"] == "stop"
        print(f"frequency_penalty={penalty}: {good}/{len(QUESTIONS)} answers pass")


if __name__ == "__main__":
    main()
