"""The build artifact and the commands that guard it: lock, card, check, diff, export."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import artifact_files, merged, shards, summary


def built(glanc, spec: Path, *args: str) -> dict:
    result = glanc("build", str(spec), "--json", "-q", *args)
    assert result.exit_code == 0, result.output
    return summary(result)


def test_build_writes_a_sorted_lock_that_a_fresh_store_rebuilds_from(glanc, tiny, tmp_path):
    first = built(glanc, tiny)
    out = tmp_path / "builds" / "tiny"
    assert sorted(artifact_files(out)) == [
        "README.md", "data/science/chemistry.jsonl", "data/science/physics.jsonl",
        "lock/science/chemistry.jsonl", "lock/science/physics.jsonl", "manifest.json",
        "shares/science/chemistry.json", "shares/science/physics.json"]
    for shard in shards(out, "lock"):  # each shard by key
        keys = [json.loads(line)["key"] for line in shard.read_text().splitlines()]
        assert keys == sorted(keys)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"]["data/science/physics.jsonl"]["lines"] == 6
    lock = [json.loads(line) for line in merged(out, "lock").decode().splitlines()]
    assert len(lock) == first["lm_calls"] == 23
    assert {e["stage"] for e in lock} == {"subjects", "syllabus", "question", "answer"}
    assert all(e["output"] and e["slot"] and e["program"] for e in lock)
    files = artifact_files(out)

    (tmp_path / "cache.duckdb").unlink()  # a fresh clone: no store, the lock is committed
    plan = json.loads(glanc("plan", str(tiny), "--json").stdout)
    assert plan["lm_calls"] == 0
    again = built(glanc, tiny)
    assert again["lm_calls"] == 0
    assert artifact_files(out) == files

    (tmp_path / "cache.duckdb").unlink()
    assert built(glanc, tiny, "--no-lock")["lm_calls"] == 23


@pytest.mark.parametrize("per_range", [1, 5])
def test_a_lock_written_range_by_range_is_the_lock_sorted_whole(glanc, tiny, tmp_path,
                                                                 monkeypatch, per_range):
    """A large store's lock is sorted a key range at a time: with 23 nodes cut into
    23 or 5 ranges, the lock has the same bytes as sorted in one."""
    import glanc.store.nodes as nodes

    built(glanc, tiny)
    out = tmp_path / "builds" / "tiny"
    whole = {p: p.read_bytes() for p in shards(out, "lock")}
    assert len(nodes.key_ranges(23)) == 1
    monkeypatch.setattr(nodes, "RANGE_NODES", per_range)
    assert len(nodes.key_ranges(23)) == -(-23 // per_range)
    os.utime(shards(out)[0])
    assert built(glanc, tiny)["lm_calls"] == 0
    assert {p: p.read_bytes() for p in shards(out, "lock")} == whole


def test_dataset_card_front_matter_and_counts(glanc, tiny, tmp_path):
    tiny.write_text(tiny.read_text().replace("seed: 1\n", "seed: 1\nlicense: cc-by-4.0\n"))
    built(glanc, tiny)
    card = (tmp_path / "builds" / "tiny" / "README.md").read_text()
    head, body = card.split("---\n")[1], card.split("---\n", 2)[2]
    meta = yaml.safe_load(head)
    assert meta["license"] == "cc-by-4.0" and meta["language"] == ["en"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["task_categories"] == ["question-answering", "text-generation"]
    assert meta["configs"] == [{"config_name": "default",
                                "data_files": [{"split": "train", "path": "data/**/*.jsonl"}]}]
    assert "| Science | 9 |" in body and "| Science/Physics | 6 |" in body
    # Chemistry's pinned subject, and Physics' second subject: its level is the spec's, never the model's
    assert "| intermediate | 6 |" in body and "| introductory | 3 |" in body
    assert "stub model: placeholder text" in body
    assert "glanc build tiny.yaml" in body  # relative to the builds directory's parent


def test_the_card_loads_with_hugging_face_datasets(glanc, tiny, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    built(glanc, tiny)
    out = tmp_path / "builds" / "tiny"
    by_card = datasets.load_dataset(str(out), split="train")  # reads configs from README.md
    by_file = datasets.load_dataset("json", data_files=[str(p) for p in shards(out)],
                                    split="train")  # fmt: skip
    assert by_card.num_rows == by_file.num_rows == 9
    assert by_card[0]["messages"][0]["role"] == "user"


def test_check_passes_then_lists_missing_nodes_and_stale_rows(glanc, tiny, tmp_path):
    built(glanc, tiny)
    ok = glanc("check", str(tiny))
    assert ok.exit_code == 0 and "up to date" in ok.stdout

    tiny.write_text(tiny.read_text() + "      - name: Biology\n")
    missing = glanc("check", str(tiny))
    assert missing.exit_code == 1
    assert "missing: 2 node(s) the spec needs are not in the lock" in missing.stderr
    assert "subjects  Science/Biology #0" in missing.stderr
    assert "run: glanc build" in missing.stderr
    built(glanc, tiny)
    assert glanc("check", str(tiny)).exit_code == 0

    dataset = tmp_path / "builds" / "tiny" / "data" / "science" / "physics.jsonl"
    lines = dataset.read_text().splitlines()
    row = json.loads(lines[0])
    row["messages"][1]["content"] = "edited by hand"
    dataset.write_text("\n".join([json.dumps(row, sort_keys=True)] + lines[2:]) + "\n")
    stale = glanc("check", str(tiny))
    assert stale.exit_code == 1
    assert "stale: " in stale.stderr and "data/science/physics.jsonl differs" in stale.stderr
    assert "+1 added, -0 removed, ~1 changed" in stale.stderr
    assert "(answer)" in stale.stderr


def test_check_uses_no_model_and_no_local_store(glanc, tiny, tmp_path):
    built(glanc, tiny)
    (tmp_path / "cache.duckdb").unlink()
    lock = tmp_path / "builds" / "tiny" / "lock" / "science" / "physics.jsonl"
    lines = lock.read_text().splitlines()
    answer = next(i for i, line in enumerate(lines) if '"stage":"answer"' in line)
    lock.write_text("\n".join(lines[:answer] + lines[answer + 1:]) + "\n")
    result = glanc("check", str(tiny))
    assert result.exit_code == 1
    assert "missing: 1 node(s)" in result.stderr and "answer" in result.stderr
    assert not (tmp_path / "cache.duckdb").exists()


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def test_diff_of_directories_revisions_and_base(glanc, tiny, tmp_path, monkeypatch):
    built(glanc, tiny)
    out = tmp_path / "builds" / "tiny"
    monkeypatch.chdir(tmp_path)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "builds", "tiny.yaml")
    git(tmp_path, "commit", "-q", "-m", "first")
    tiny.write_text(tiny.read_text() + "      - name: Biology\n")
    built(glanc, tiny)

    as_json = json.loads(glanc("diff", "--base", "main", "--format", "json").stdout)
    assert [(d["old"], d["new"], d["added"], d["removed"], d["changed"]) for d in as_json] == [
        ("main:builds/tiny", "builds/tiny", 6, 0, 0)]
    assert [g["path"] for g in as_json[0]["groups"]] == ["Science/Biology"]
    assert len(as_json[0]["groups"][0]["samples"]) == 3

    by_rev = glanc("diff", "main:builds/tiny", str(out), "--format", "json")
    assert json.loads(by_rev.stdout)["added"] == 6
    md = glanc("diff", "--base", "main", "--format", "markdown").stdout
    assert "| Science/Biology | 6 | 0 | 0 |" in md and "<details>" in md
    assert glanc("diff", "--base", "main", "--exit-code").exit_code == 1
    same = glanc("diff", str(out), str(out), "--exit-code")
    assert same.exit_code == 0 and "no row changed" in same.stdout

    bad = glanc("diff", "--base", "no-such-branch")
    assert bad.exit_code == 2 and "not a git revision" in bad.stderr


def test_export_chat_jsonl_and_parquet(glanc, tiny, tmp_path):
    import duckdb

    built(glanc, tiny)
    chat = glanc("export", "tiny")
    assert chat.exit_code == 0
    lines = [json.loads(line) for line in chat.stdout.splitlines()]
    assert len(lines) == 9 and all(set(r) == {"messages"} for r in lines)
    assert [m["role"] for m in lines[0]["messages"]] == ["user", "assistant"]
    target = tmp_path / "t.parquet"
    assert glanc("export", "tiny", "--format", "parquet", "-o", str(target)).exit_code == 0
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*), count(DISTINCT id) FROM '{target}'").fetchone() == (9, 9)
    full = glanc("export", "tiny", "--format", "jsonl").stdout
    assert full == merged(tmp_path / "builds" / "tiny").decode()
    missing = glanc("export", "nope")
    assert missing.exit_code == 2 and "run glanc build first" in missing.stderr


def test_a_failure_while_writing_leaves_the_old_artifact_whole(glanc, tiny, tmp_path, monkeypatch):
    """All four files are staged before any is renamed: a failure while sorting
    the dataset (DuckDB out of memory, say) replaces none of them."""
    from glanc.artifact.write import RowSpool

    assert glanc("build", str(tiny), "-q").exit_code == 0
    build = tmp_path / "builds" / "tiny"
    before = artifact_files(build)
    tiny.write_text(tiny.read_text().replace("- name: Physics", "- name: Physics\n      - name: Geology"))

    def failing(self):
        yield "science/geology", "first line\n"
        raise MemoryError("out of memory while sorting")

    monkeypatch.setattr(RowSpool, "sorted_by_shard", failing)
    with pytest.raises(MemoryError):
        glanc("build", str(tiny), "-q")
    assert artifact_files(build) == before  # no temp files either
    assert sorted(p.name for p in build.parent.iterdir()) == ["tiny"]
