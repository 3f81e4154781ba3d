"""End to end through the real embedded model: SmolLM2-135M via llama.cpp.

One discipline, one pinned subject, two questions: a syllabus call, two
question calls and two answer calls on the real model (about a minute on 2
cores). Asserts the rows are well formed, not what a 135M model writes.
"""

import json

import pytest
from conftest import merged

from glanc.specs.models import embedded_gguf

SPEC = """
glanc: 1
name: embedded-e2e
seed: 3
settings:
  models: {generator: embedded, answerer: embedded}
  sessions: 3
  key_concepts: 3
  questions_per_subject: 2
  challenging_ratio: 0.5
  decoding:
    syllabus: {temperature: 0.6, max_tokens: 500}
    question: {temperature: 0.7, max_tokens: 150}
    answer: {temperature: 0.5, max_tokens: 150}
taxonomy:
  - name: Natural Sciences
    children:
      - name: Physics
        subjects:
          - {name: Classical Mechanics, level: introductory, subtopics: [motion, forces, energy]}
"""


@pytest.mark.model
def test_embedded_model_builds_well_formed_rows(glanc, tmp_path):
    path = embedded_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    spec = tmp_path / "e2e.yaml"
    spec.write_text(SPEC)
    result = glanc("build", str(spec), "--json", "-q")
    s = json.loads(result.stdout)
    assert s["stages"]["syllabus"]["run"] + s["stages"]["syllabus"]["failed"] == 1
    assert s["lm_calls"] >= 5
    assert s["tokens"]["out"] > 0
    lines = merged(tmp_path / "builds" / "embedded-e2e").decode().splitlines()
    assert len(lines) + s["stages"]["question"]["failed"] + s["stages"]["answer"]["failed"] == 2
    assert lines, f"no row survived: {s['failed']}"
    for line in lines:
        row = json.loads(line)
        assert row["stub"] is False
        assert row["models"]["answer"].startswith("embedded:") and row["models"]["answer"].endswith(".gguf")
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert all(len(m["content"]) >= 20 for m in row["messages"])
        assert row["subject"] == "Classical Mechanics" and row["discipline"] == "Physics"
        assert row["sessions"] and row["key_concepts"]
    # the second build is served from the store
    again = json.loads(glanc("build", str(spec), "--json", "-q").stdout)
    if result.exit_code == 0:
        assert again["lm_calls"] == 0
