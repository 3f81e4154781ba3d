"""The sharded artifact: a file per discipline under data/, lock/ and dropped/,
named by slugs; parts past the size bound; the old single-file layout read and
rewritten; every command on the new layout."""

import json
import shutil
from pathlib import Path

import pytest
from conftest import artifact_files, merged, rows_of, shards, summary

SPEC = """glanc: 1
name: wide
seed: 3
template: json
quality: {enabled: false}
settings:
  models: {generator: stub, answerer: stub}
  subject_samples: 1
  subjects_per_sample: 2
  max_subjects: 2
  questions_per_subject: 2
taxonomy:
  - name: Natural Sciences
    children:
      - name: Physics
      - name: Chemistry
  - name: Économie & Société
    children:
      - name: Micro-economics
  - name: 数学
"""


@pytest.fixture
def wide(tmp_path: Path) -> Path:
    path = tmp_path / "wide.yaml"
    path.write_text(SPEC)
    return path


def test_a_file_per_discipline_in_a_folder_per_field_named_by_slugs(glanc, wide, tmp_path):
    assert glanc("build", str(wide), "-q").exit_code == 0
    out = tmp_path / "builds" / "wide"
    names = sorted(artifact_files(out))
    assert names == [
        "README.md",
        "data/2e3dbd8e.jsonl",  # a name without ASCII letters: its digest
        "data/economie-societe/micro-economics.jsonl",
        "data/natural-sciences/chemistry.jsonl",
        "data/natural-sciences/physics.jsonl",
        "lock/2e3dbd8e.jsonl",
        "lock/economie-societe/micro-economics.jsonl",
        "lock/natural-sciences/chemistry.jsonl",
        "lock/natural-sciences/physics.jsonl",
        "manifest.json",
        "shares/2e3dbd8e.json",  # each discipline's share of the counts, and its files
        "shares/economie-societe/micro-economics.json",
        "shares/natural-sciences/chemistry.json",
        "shares/natural-sciences/physics.json",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["files"]) == [n for n in names if "/" in n]
    for name, listed in manifest["files"].items():
        assert listed["lines"] == (out / name).read_text().count("\n")
    rows = rows_of(out)
    for path in shards(out):  # each file holds its discipline's rows, by id
        here = [json.loads(line) for line in path.read_text().splitlines()]
        assert [r["id"] for r in here] == sorted(r["id"] for r in here)
        assert len({tuple(r["taxonomy_path"]) for r in here}) == 1
    assert len(rows) == sum(len(p.read_text().splitlines()) for p in shards(out)) == 16
    assert glanc("check", str(wide)).exit_code == 0


def test_two_sibling_names_with_one_slug_are_a_located_error(glanc, tmp_path):
    path = tmp_path / "clash.yaml"
    path.write_text(SPEC.replace("  - name: 数学\n", "  - name: 数学\n  - name: Economie & Societe\n"
                                 "    children: [{name: Macro-economics}]\n"))
    result = glanc("validate", str(path))
    assert result.exit_code == 2, result.output
    assert "clash.yaml:21:" in result.output
    assert ("'Economie & Societe' and 'Économie & Société' (line 17) would share the build path "
            "'economie-societe': rename one") in result.output


def test_the_card_loads_every_row_and_each_field_with_hugging_face_datasets(
        glanc, wide, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert glanc("build", str(wide), "-q").exit_code == 0
    out = tmp_path / "builds" / "wide"
    assert datasets.load_dataset(str(out), split="train").num_rows == 16
    assert datasets.load_dataset(str(out), "natural-sciences", split="train").num_rows == 8
    assert datasets.load_dataset(str(out), "economie-societe", split="train").num_rows == 4


def test_a_large_discipline_is_split_by_id_prefix_and_read_back_whole(
        glanc, wide, tmp_path, monkeypatch):
    from glanc.artifact import layout

    assert glanc("build", str(wide), "-q").exit_code == 0
    whole = tmp_path / "whole"
    shutil.copytree(tmp_path / "builds" / "wide", whole)
    monkeypatch.setattr(layout, "PART_BYTES", 1000)  # every discipline's rows are larger
    shutil.rmtree(tmp_path / "builds" / "wide")
    assert summary(glanc("build", str(wide), "-q", "--json"))["lm_calls"] == 0
    out = tmp_path / "builds" / "wide"
    parts = [p.relative_to(out).as_posix() for p in shards(out)]
    assert "data/natural-sciences/physics.jsonl" not in parts
    split = [p for p in parts if p.startswith("data/natural-sciences/physics.")]
    assert len(split) > 1 and all(len(p.split(".")[1]) == 1 for p in split)
    for path in shards(out):  # a part holds the ids of its prefix
        prefix = path.name.split(".")[1]
        assert all(json.loads(x)["id"].startswith(prefix) for x in path.read_text().splitlines())
    assert merged(out) == merged(whole) and merged(out, "lock") == merged(whole, "lock")
    manifest = json.loads((out / "manifest.json").read_text())
    every = [p.relative_to(out).as_posix() for k in ("data", "lock") for p in shards(out, k)]
    every += [p.relative_to(out).as_posix() for p in (out / "shares").rglob("*.json")]
    assert sorted(manifest["files"]) == sorted(every)
    assert glanc("check", str(wide)).exit_code == 0
    assert glanc("diff", str(whole), str(out), "--exit-code").exit_code == 0
    exported = glanc("export", "wide", "--format", "jsonl")
    assert exported.stdout.encode() == merged(whole)  # every row, by id, as written


def legacy(build_dir: Path) -> None:
    """Turn a build directory into the single-file layout of glanc before 0.2."""
    (build_dir / "dataset.jsonl").write_bytes(merged(build_dir))
    (build_dir / "lock.jsonl").write_bytes(merged(build_dir, "lock"))
    for kind in ("data", "lock", "dropped"):
        shutil.rmtree(build_dir / kind, ignore_errors=True)


def test_a_build_in_the_old_layout_is_read_checked_and_rewritten_without_a_call(
        glanc, wide, tmp_path):
    assert glanc("build", str(wide), "-q").exit_code == 0
    out = tmp_path / "builds" / "wide"
    new = artifact_files(out)
    rows = merged(out)
    legacy(out)
    (tmp_path / "cache.duckdb").unlink()  # a fresh clone: only the committed lock
    result = glanc("check", str(wide))
    assert result.exit_code == 1
    layout_lines = [x for x in result.stderr.splitlines() if x.startswith("layout:")]
    assert len(layout_lines) == 1 and "single-file layout of glanc before 0.2" in layout_lines[0]
    assert json.loads(glanc("plan", str(wide), "--json").stdout)["lm_calls"] == 0
    assert glanc("export", "wide", "--format", "jsonl").stdout.encode() == rows
    assert glanc("diff", str(out), str(out), "--exit-code").exit_code == 0
    built = summary(glanc("build", str(wide), "--json", "-q"))
    assert built["lm_calls"] == 0
    assert artifact_files(out) == new  # the old files gone, the new ones as a fresh build's
    assert glanc("check", str(wide)).exit_code == 0


def test_a_key_twice_in_one_lock_shard_is_refused_and_in_another_shard_is_stale(
        glanc, wide, tmp_path):
    """Two disciplines that use one node both list it in their lock shards; a key
    twice in one shard is no lock glanc writes."""
    assert glanc("build", str(wide), "-q").exit_code == 0
    out = tmp_path / "builds" / "wide"
    first, second = shards(out, "lock")[:2]
    line = first.read_text().splitlines()[0]
    second.write_text(second.read_text() + line + "\n")
    result = glanc("check", str(wide))
    assert result.exit_code == 1
    assert f"stale: {second} differs" in result.stderr
    first.write_text(first.read_text() + line + "\n")
    twice = glanc("check", str(wide))
    assert twice.exit_code == 2
    assert f"{first}:" in twice.stderr and "is also on line 1" in twice.stderr


@pytest.mark.parametrize("change", ["add", "remove", "rename", "settings", "template"])
def test_a_change_gives_the_bytes_of_a_build_from_scratch(glanc, wide, tmp_path, change):
    assert glanc("build", str(wide), "-q").exit_code == 0
    text = wide.read_text()
    template = (Path(__file__).parents[1] / "glanc" / "templates" / "json.yaml").read_text()
    edited_template = template.replace("teacher writing one homework question",
                                       "teacher writing exactly one homework question")
    assert edited_template != template
    (tmp_path / "edited.yaml").write_text(edited_template)
    edited = {
        "add": text.replace("      - name: Chemistry\n",
                            "      - name: Chemistry\n      - name: Geology\n"),
        "remove": text.replace("      - name: Chemistry\n", ""),
        "rename": text.replace("name: Chemistry", "name: Chemistry of Life"),
        "settings": text.replace("      - name: Physics\n",
                                 "      - name: Physics\n        settings: {max_subjects: 1}\n"),
        "template": text.replace("template: json", "template: edited.yaml"),  # every discipline
    }[change]
    wide.write_text(edited)
    assert glanc("build", str(wide), "-q").exit_code == 0
    fresh = tmp_path / "fresh"
    result = glanc("build", str(wide), "-q", "--out", str(fresh), "--no-lock",
                   "--store", str(tmp_path / "fresh.duckdb"), store=False)  # fmt: skip
    assert result.exit_code == 0
    assert artifact_files(tmp_path / "builds" / "wide") == artifact_files(fresh / "wide")


def git(cwd: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd,
                   check=True, capture_output=True)  # fmt: skip


def committed(glanc, spec: Path, tmp_path: Path, code: int = 0) -> None:
    """Build ``spec`` and commit the build and the spec on ``main`` of a new git
    repository in ``tmp_path`` (the working directory)."""
    assert glanc("build", str(spec), "-q").exit_code == code
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "builds", spec.name)
    git(tmp_path, "commit", "-q", "-m", "first")


def with_geology(spec: Path) -> None:
    spec.write_text(spec.read_text().replace("      - name: Chemistry\n",
                                             "      - name: Chemistry\n      - name: Geology\n"))


def test_diff_base_reads_the_changed_disciplines_and_counts_every_row(
        glanc, wide, tmp_path, monkeypatch):
    from glanc.artifact import diff as diffs

    monkeypatch.chdir(tmp_path)
    committed(glanc, wide, tmp_path)
    with_geology(wide)
    assert glanc("build", str(wide), "-q").exit_code == 0
    read: list[str] = []
    real = diffs._files
    monkeypatch.setattr(diffs, "_files", lambda f: [read.append(p.name) or p for p in real(f)])
    as_json = json.loads(glanc("diff", "--base", "main", "--format", "json").stdout)[0]
    assert (as_json["rows"], as_json["added"], as_json["removed"]) == (
        {"old": 16, "new": 20}, 4, 0)
    assert [g["path"] for g in as_json["groups"]] == ["Natural Sciences/Geology"]
    assert set(read) == {"geology.jsonl"}  # the other disciplines' files were not joined
    full = json.loads(glanc("diff", "main:builds/wide", "builds/wide", "--format", "json").stdout)
    assert (full["rows"], full["added"], full["groups"]) == (
        as_json["rows"], as_json["added"], as_json["groups"])


def same_question_spec(fake_server) -> str:
    """A spec of one discipline, Physics, whose model asks the same question every
    time (the fake server's constant one), every row check off: every row but the
    first is a near-duplicate."""
    from glanc.specs.types import CHECKS

    base = fake_server(constant="question")
    model = f"{{id: openai/fake, api_base: '{base}', timeout: 5, max_retries: 1}}"
    off = ", ".join(f"{check}: false" for check in CHECKS)
    return (f"glanc: 1\nname: dup\nseed: 7\ntemplate: json\n"
            f"quality: {{redraws: 1, checks: {{{off}}}}}\n"
            f"settings:\n  models: {{generator: {model}, answerer: {model}}}\n"
            "  subject_samples: 1\n  subjects_per_sample: 2\n  max_subjects: 1\n"
            "  questions_per_subject: 2\n"
            "taxonomy:\n  - name: Science\n    children:\n      - name: Physics\n")  # fmt: skip


def test_a_near_duplicate_pair_across_an_old_and_a_new_discipline(glanc, tmp_path, fake_server):
    """Every question the same (the fake server's constant one): the discipline added
    later has only near-duplicates of the first one's kept row. Built in two steps or
    from scratch, the files are the same."""
    text = same_question_spec(fake_server)
    spec = tmp_path / "dup.yaml"
    spec.write_text(text)
    assert glanc("build", str(spec), "-q").exit_code == 4  # Physics' second row: short
    spec.write_text(text + "      - name: Astronomy\n")
    assert glanc("build", str(spec), "-q").exit_code == 4
    out = tmp_path / "builds" / "dup"
    dropped = rows_of(out, "dropped")
    kept = rows_of(out)
    assert len(kept) == 1 and {d["dropped"]["detail"]["kept"] for d in dropped} == {kept[0]["id"]}
    assert {d["discipline"] for d in dropped} == {"Physics", "Astronomy"}  # the pair spans both
    fresh = tmp_path / "fresh"
    result = glanc("build", str(spec), "-q", "--out", str(fresh), "--no-lock",
                   "--store", str(tmp_path / "fresh.duckdb"), store=False)  # fmt: skip
    assert result.exit_code == 4
    assert artifact_files(out) == artifact_files(fresh / "dup")


def test_check_base_finds_a_near_duplicate_pair_across_old_and_new_with_its_cache(
        glanc, tmp_path, fake_server, monkeypatch):
    """Every question the same: the discipline added has only near-duplicates of the
    first one's kept row, so ``check --base`` may not take the first as checked at
    main; it rebuilds both. It finds the pair alike with its cache of the files'
    bands cold, warm, and unreadable (the cache only saves time)."""
    monkeypatch.chdir(tmp_path)
    text = same_question_spec(fake_server)
    spec = tmp_path / "dup.yaml"
    spec.write_text(text)
    committed(glanc, spec, tmp_path, code=4)
    spec.write_text(text + "      - name: Astronomy\n")
    assert glanc("build", str(spec), "-q").exit_code == 4
    cache = tmp_path / ".glanc" / "check.duckdb"
    for state in ("cold", "warm", "unreadable"):
        if state == "unreadable":
            cache.write_bytes(b"not a database")
        result = glanc("check", "dup.yaml", "--base", "main")
        assert result.exit_code == 0, (state, result.output)
        assert "up to date" in result.stdout and "taken as checked there" not in result.stdout
        assert cache.is_file()
    # one that came with the checkout could hide the pair: refused, in one line
    cache.unlink()
    (tmp_path / ".glanc" / ".gitignore").unlink(missing_ok=True)
    assert glanc("check", "dup.yaml", "--base", "main").exit_code == 0
    git(tmp_path, "add", "-f", str(cache))
    refused = glanc("check", "dup.yaml", "--base", "main")
    assert refused.exit_code == 2 and "a check cache that git tracks" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    # a .glanc folder that links out of the checkout: refused, nothing written there
    import shutil

    git(tmp_path, "rm", "-q", "--cached", str(cache))
    shutil.rmtree(tmp_path / ".glanc")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / ".glanc").symlink_to(outside)
    linked = glanc("check", "dup.yaml", "--base", "main")
    assert linked.exit_code == 2 and "is a symlink" in linked.stderr
    assert list(outside.iterdir()) == []
    # a plain check reads no cache, and makes none
    (tmp_path / ".glanc").unlink()
    assert glanc("check", "dup.yaml").exit_code == 0
    assert not (tmp_path / ".glanc").exists()


def test_check_base_skips_an_unchanged_build_and_rebuilds_only_what_changed(
        glanc, wide, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    committed(glanc, wide, tmp_path)
    (tmp_path / "cache.duckdb").unlink()
    same = glanc("check", "wide.yaml", "--base", "main")
    assert same.exit_code == 0 and "nothing rebuilt" in same.stdout
    # a shard edited by hand: checked whole, and named
    shard = tmp_path / "builds" / "wide" / "data" / "natural-sciences" / "physics.jsonl"
    lines = shard.read_text().splitlines()
    shard.write_text("\n".join(lines[1:]) + "\n")
    edited = glanc("check", "wide.yaml", "--base", "main")
    assert edited.exit_code == 1 and "nothing rebuilt" not in edited.stdout
    assert "/builds/wide/data/natural-sciences/physics.jsonl differs" in edited.stderr
    git(tmp_path, "checkout", "--", "builds")
    # a discipline added and built: only it rebuilt, the four others taken as at main
    with_geology(wide)
    assert glanc("build", str(wide), "-q").exit_code == 0
    grown = glanc("check", "wide.yaml", "--base", "main")
    assert grown.exit_code == 0 and "nothing rebuilt" not in grown.stdout
    assert "up to date" in grown.stdout
    assert "4 discipline(s) unchanged since main taken as checked there" in grown.stdout
    # ... and a shard of an unchanged discipline edited by hand beside it: named
    shard.write_text("\n".join(lines[1:]) + "\n")
    edited = glanc("check", "wide.yaml", "--base", "main")
    assert edited.exit_code == 1
    assert "/builds/wide/data/natural-sciences/physics.jsonl differs" in edited.stderr
    assert "geology" not in edited.stderr
    bad = glanc("check", "wide.yaml", "--base", "no-such-branch")
    assert bad.exit_code == 2 and "not a git revision" in bad.stderr


def test_diff_base_counts_the_drops_of_changed_and_unchanged_files(glanc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = SPEC.replace("quality: {enabled: false}",
                        "quality: {redraws: 1, checks: {length: {max_question_words: 3}}}")
    spec = tmp_path / "wide.yaml"
    spec.write_text(text)
    committed(glanc, spec, tmp_path, code=4)  # every row dropped: short
    before = len(rows_of(tmp_path / "builds" / "wide", "dropped"))
    with_geology(spec)
    assert glanc("build", str(spec), "-q").exit_code == 4
    after = len(rows_of(tmp_path / "builds" / "wide", "dropped"))
    as_json = json.loads(glanc("diff", "--base", "main", "--format", "json").stdout)[0]
    assert as_json["dropped"] == {"length": {"old": before, "new": after}} and after > before
