"""Hostile and careless input, and faults: every one ends in a whole artifact,
a one-line message and the documented exit status, never a leaked secret."""

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, SPECS, artifact_files, merged, rows_of, shards, summary

from glanc.store import Store

KEY = "sk-live-abcdefgh12345678"


def remote_spec(tmp_path: Path, model: str, name: str = "remote", questions: int = 3) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"glanc: 1\nname: {name}\nseed: 3\ntemplate: json\nquality: {{enabled: false}}\n"
        f"settings:\n  models: {{generator: {model}, answerer: {model}}}\n"
        f"  subject_samples: 1\n  max_subjects: 2\n  questions_per_subject: {questions}\n"
        "taxonomy:\n  - name: Science\n    children:\n      - name: Physics\n      - name: Chemistry\n"
    )
    return path


def served(base: str, extra: str = "") -> str:
    return f"{{id: openai/fake, api_base: '{base}', timeout: 5, max_retries: 1{extra}}}"


def artifact(build_dir: Path) -> dict[str, bytes]:
    return artifact_files(build_dir)


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def run_glanc(*args: str, cwd: Path = ROOT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glanc", *args], capture_output=True, text=True,
                          cwd=cwd, **kw)


def stats(base: str) -> dict:
    with urllib.request.urlopen(base.replace("/v1", "/stats")) as response:
        return json.loads(response.read())


# -- determinism ---------------------------------------------------------------

def test_shared_keys_give_the_same_bytes_at_any_concurrency_and_completion_order(
        glanc, tmp_path, fake_server):
    """Every question is the same, so each subject's answer nodes share one key;
    replies come back in random order. Concurrency 1 and 16 (three times) write
    the very same bytes."""
    base = fake_server(jitter_ms=40, constant="question")
    path = remote_spec(tmp_path, served(base), questions=4)
    builds = []
    for i, concurrency in enumerate(["1", "16", "16", "16"]):
        out = tmp_path / f"out{i}"
        result = glanc("build", str(path), "-q", "--json", "--concurrency", concurrency,
                       "--store", str(tmp_path / f"s{i}.duckdb"), "--out", str(out), store=False)
        assert result.exit_code == 0, result.output
        builds.append(artifact(out / "remote"))
    lock = rows_of(tmp_path / "out0" / "remote", "lock")
    rows = len(rows_of(tmp_path / "out0" / "remote"))
    assert sum(e["stage"] == "answer" for e in lock) < rows  # keys really are shared
    for other in builds[1:]:
        assert other == builds[0]


# -- replies cut short ------------------------------------------------------------

def test_replies_cut_short_are_failed_tries_never_exported(glanc, tmp_path, fake_server):
    base = fake_server(fault_rate=0.35, faults="cut", seed=4)
    path = remote_spec(tmp_path, served(base))
    out, store = tmp_path / "out", str(tmp_path / "s.duckdb")
    codes, errors = [], []
    for _ in range(12):
        result = glanc("build", str(path), "-q", "--json", "--store", store, "--out", str(out),
                       store=False)
        s = summary(result)
        codes.append(result.exit_code)
        errors += [f["error"] for f in s["failed"]]
        manifest = json.loads((out / "remote" / "manifest.json").read_text())
        assert manifest["complete"] == (result.exit_code == 0)
        for line in merged(out / "remote").decode().splitlines():
            row = json.loads(line)
            for message in row["messages"]:  # the fake model's whole strings, never a cut one
                assert re.fullmatch(r"stub (question|answer) [0-9a-f]{8}", message["content"])
        if result.exit_code == 0:
            break
    assert stats(base)["cut"] > 0
    assert codes[-1] == 0 and manifest["rows"] == 12  # retried with new seeds until whole
    assert all("reply cut short (finish_reason: length)" in e and "max_tokens" in e
               for e in errors)


# -- a kill loses nothing finished ---------------------------------------------------

@pytest.mark.parametrize("n", [3, 9])
def test_a_kill_right_after_n_replies_keeps_all_n(tmp_path, fake_server, n):
    base = fake_server(hang_after=n)
    path = remote_spec(tmp_path, served(base).replace("timeout: 5", "timeout: 60"))
    store = tmp_path / "s.duckdb"
    proc = subprocess.Popen([sys.executable, "-m", "glanc", "build", str(path), "-q",
                             "--store", str(store), "--out", str(tmp_path / "out"),
                             "--concurrency", "1"], cwd=ROOT)
    deadline = time.monotonic() + 30
    # at concurrency 1, request n+1 is sent only once reply n has been handled
    while sum(stats(base).values()) <= n:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(store) as s:
        assert s.count() == s.count("ok") == n


# -- the artifact changes as a whole ---------------------------------------------------

KILLER = """
import os, signal, sys
import glanc.artifact.publish as publish
step, journal = sys.argv[1], sys.argv[2] == "journal"
def checkpoint(at):
    if at == step:
        os.kill(os.getpid(), signal.SIGKILL)
publish.checkpoint = checkpoint
if journal:
    publish._exchange = lambda a, b: False
from glanc.cli import main
main(sys.argv[3:])
"""


@pytest.mark.parametrize("mode, step", [
    ("exchange", "staged"), ("exchange", "exchanged"),
    ("journal", "staged"), ("journal", "journal"), ("journal", "retired"),
    ("journal", "renamed"),
])
def test_a_kill_at_each_step_of_the_artifact_write_leaves_a_whole_artifact(
        glanc, tiny, tmp_path, mode, step):
    out = tmp_path / "builds"
    assert glanc("build", str(tiny), "-q").exit_code == 0
    old = artifact(out / "tiny")
    tiny.write_text(tiny.read_text().replace("seed: 1", "seed: 2"))
    new_out = tmp_path / "reference"
    assert glanc("build", str(tiny), "-q", "--out", str(new_out), "--no-lock",
                 "--store", str(tmp_path / "ref.duckdb"), store=False).exit_code == 0
    new = artifact(new_out / "tiny")
    assert new != old

    proc = subprocess.run([sys.executable, "-c", KILLER, step, mode, "build", str(tiny), "-q",
                           "--store", str(tmp_path / "cache.duckdb"), "--out", str(out)],
                          cwd=ROOT, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    if (out / "tiny").exists():
        assert artifact(out / "tiny") in (old, new)  # never a mix
    else:
        assert mode == "journal" and step == "retired"  # between the two renames
    # the next glanc command finishes the publish and clears what the kill left
    assert glanc("export", "tiny", "--format", "jsonl").exit_code == 0
    assert artifact(out / "tiny") in (old, new)
    assert [p.name for p in out.iterdir()] == ["tiny"]
    assert sorted(p.name for p in (out / "tiny").iterdir()) == [
        "README.md", "data", "lock", "manifest.json", "shares"]
    assert glanc("build", str(tiny), "-q").exit_code == 0
    assert artifact(out / "tiny") == new


def test_ctrl_c_while_writing_the_artifact_exits_130_and_keeps_the_old_one(
        glanc, tiny, tmp_path, monkeypatch):
    import glanc.artifact.publish as publish

    out = tmp_path / "builds"
    assert glanc("build", str(tiny), "-q").exit_code == 0
    old = artifact(out / "tiny")
    tiny.write_text(tiny.read_text().replace("seed: 1", "seed: 2"))

    def interrupt(step):
        raise KeyboardInterrupt

    monkeypatch.setattr(publish, "checkpoint", interrupt)
    result = glanc("build", str(tiny), "-q")
    assert result.exit_code == 130
    assert "error: interrupted" in result.stderr and "Traceback" not in result.output
    assert artifact(out / "tiny") == old
    assert [p.name for p in out.iterdir()] == ["tiny"]


def test_artifact_files_follow_the_umask(glanc, tiny, tmp_path):
    previous = os.umask(0o022)
    try:
        assert glanc("build", str(tiny), "-q").exit_code == 0
    finally:
        os.umask(previous)
    build_dir = tmp_path / "builds" / "tiny"
    assert build_dir.stat().st_mode & 0o777 == 0o755
    assert {(build_dir / n).stat().st_mode & 0o777 for n in artifact_files(build_dir)} == {0o644}
    assert {p.stat().st_mode & 0o777 for p in build_dir.rglob("*") if p.is_dir()} == {0o755}


# -- secrets --------------------------------------------------------------------------

def test_a_key_pasted_into_api_key_env_is_never_echoed(glanc, tmp_path):
    path = remote_spec(tmp_path, f"{{id: openai/x, api_base: 'http://127.0.0.1:9/v1', "
                                 f"api_key_env: '{KEY}'}}")
    for command in ("validate", "build", "plan"):
        result = glanc(command, str(path))
        assert result.exit_code == 2
        assert KEY not in result.output and "api_key_env" in result.output
    assert not (tmp_path / "cache.duckdb").exists()


def test_credentials_in_a_spec_url_are_refused_without_showing_them(glanc, tmp_path):
    path = remote_spec(tmp_path, "{id: openai/x, api_base: 'http://bob:hunter2pass@127.0.0.1:9/v1'}")
    result = glanc("validate", str(path))
    assert result.exit_code == 2 and "hunter2pass" not in result.output
    assert "env:NAME" in result.output


def test_credentials_from_the_environment_go_as_basic_auth_and_are_redacted(
        glanc, tmp_path, fake_server, monkeypatch):
    base = fake_server()
    with_creds = base.replace("http://", "http://bob:hunter2pass@")
    monkeypatch.setenv("GLANC_TEST_URL", with_creds)
    path = remote_spec(tmp_path, "{id: openai/fake, api_base: 'env:GLANC_TEST_URL', timeout: 5}")
    result = glanc("build", str(path), "-q")
    assert result.exit_code == 0, result.output
    with urllib.request.urlopen(base.replace("/v1", "/requests")) as response:
        shapes = json.loads(response.read())
    assert "auth=Basic Ym9iOmh1bnRlcjJwYXNz" in shapes  # base64 of bob:hunter2pass

    monkeypatch.setenv("GLANC_TEST_URL", "http://bob:hunter2pass@127.0.0.1:9/v1")  # nobody there
    result = glanc("build", str(path), "-q", "--no-lock")
    line = one_line_error(result)
    assert result.exit_code == 2 and "http://127.0.0.1:9/v1" in line and "hunter2pass" not in line
    for where in [tmp_path / "cache.duckdb", *(tmp_path / "builds" / "remote").rglob("*.*")]:
        assert b"hunter2pass" not in Path(where).read_bytes()


def test_a_missing_key_variable_is_found_before_the_store_is_touched(glanc, tmp_path,
                                                                    monkeypatch):
    monkeypatch.delenv("GLANC_NOT_SET", raising=False)
    path = remote_spec(tmp_path, "{id: openai/x, api_base: 'http://127.0.0.1:9/v1', "
                                 "api_key_env: GLANC_NOT_SET}")
    result = glanc("build", str(path), "-q")
    assert result.exit_code == 2
    assert "environment variable GLANC_NOT_SET (api_key_env) is not set" in one_line_error(result)
    assert not (tmp_path / "cache.duckdb").exists()


# -- template contract ---------------------------------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("question", "has the name of one of stage 'answer''s inputs"),
    ("model_config", "reserved by DSPy/pydantic"),
    ("instructions", "reserved by DSPy/pydantic"),
    ("schema", "reserved by DSPy/pydantic"),
    ("json", "reserved by DSPy/pydantic"),
    ("model_fields", "reserved by DSPy/pydantic"),
])
def test_template_output_names_that_break_the_program_are_located_errors(glanc, tmp_path,
                                                                          name, message):
    from glanc.specs import resources

    text = resources.default_template().read_text()
    head, answer = text.split("\n  answer:", 1)
    answer = answer.replace("    outputs:\n", f"    outputs:\n      {name}: {{type: string}}\n", 1)
    template = tmp_path / "t.yaml"
    template.write_text(head + "\n  answer:" + answer)
    result = glanc("validate", str(template))
    assert result.exit_code == 2
    line = result.stderr.splitlines()[0]
    assert re.match(rf"^{re.escape(str(template))}:\d+:\d+: \$\.stages\.answer\.outputs\.{name}: ",
                    line), line
    assert message in line


def test_the_reserved_names_cover_the_installed_dspy_and_pydantic():
    import dspy
    import pydantic

    from glanc.specs.contract import RESERVED_NAMES

    public = {n for n in dir(pydantic.BaseModel) + dir(dspy.Signature) if not n.startswith("_")}
    assert public <= RESERVED_NAMES


# -- bounds -----------------------------------------------------------------------------

BOMB = "glanc: 1\nname: bomb\n" + "".join(
    f"x{i}: &x{i} [{', '.join([f'*x{i - 1}' if i else '1'] * 9)}]\n" for i in range(9)
) + "taxonomy: [{name: A}]\n"


@pytest.mark.parametrize("text, message", [
    (BOMB, "aliases expand to more than 10,000 extra values"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 64 levels"),
    ("glanc: 1\nname: big\nsettings: {questions_per_subject: 1000000000}\n"
     "taxonomy: [{name: A}]\n", "greater than the maximum of 10000"),
])
def test_hostile_yaml_is_refused_quickly_with_a_located_line(glanc, tmp_path, text, message):
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    started = time.monotonic()
    result = glanc("validate", str(path))
    assert time.monotonic() - started < 1.0
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert re.match(rf"^{re.escape(str(path))}:\d+:\d+: ", result.stderr) and message in result.stderr


def test_a_spec_larger_than_the_limit_is_one_line(glanc, tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * (9 << 20) + "\n")
    result = glanc("validate", str(path))
    assert result.exit_code == 2 and "larger than 8 MB" in result.stderr


@pytest.mark.parametrize("name", ["' '", '"\\n"', "'...'", '"A\\0B"', '"Phys\\u202Eics"'])
def test_names_must_be_printable_with_a_letter_or_digit(glanc, tmp_path, name):
    path = tmp_path / "names.yaml"
    path.write_text("glanc: 1\nname: names\nsettings: {models: {generator: stub, answerer: stub}}\n"
                    f"taxonomy:\n  - name: {name}\n")
    result = glanc("validate", str(path))
    assert result.exit_code == 2
    assert re.match(rf"^{re.escape(str(path))}:5:\d+: \$\.taxonomy\[0\]\.name: ", result.stderr)


# -- store, disk and permission faults -------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_a_damaged_store_is_one_line_and_exit_2(glanc, tiny, tmp_path, damage):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    store = tmp_path / "cache.duckdb"
    data = bytearray(store.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        # every block past the header: wherever the layout put what the next build reads
        data[8192:] = b"\xa5" * (len(data) - 8192)
    store.write_bytes(bytes(data))
    result = glanc("build", str(tiny), "-q")
    assert result.exit_code == 2
    assert "move it aside" in one_line_error(result)


def test_a_full_disk_is_one_line_and_exit_2(tiny, tmp_path):
    def limit():  # writes past 8 KB fail as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 10, 8 << 10))

    proc = subprocess.run([sys.executable, "-m", "glanc", "build", str(tiny), "-q", "--store",
                           str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, preexec_fn=limit)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "run the same command again" in lines[0], proc.stderr
    assert not (tmp_path / "out" / "tiny").exists()


@pytest.mark.parametrize("out", ["/sys/glanc-test-builds", "file"])
def test_an_unwritable_builds_dir_fails_before_any_model_call(glanc, tiny, tmp_path, out):
    if out == "file":
        (tmp_path / "file").write_text("not a directory")
        out = str(tmp_path / "file")
    result = glanc("build", str(tiny), "-q", "--json", "--out", out, "--store",
                   str(tmp_path / "s.duckdb"), store=False)
    assert result.exit_code == 2
    assert "cannot write the builds directory" in one_line_error(result)
    assert not (tmp_path / "s.duckdb").exists()


# -- a hand-edited lock is visible -----------------------------------------------------------

def test_check_and_diff_show_a_lock_output_changed_without_its_input(glanc, tiny, tmp_path):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    build_dir = tmp_path / "builds" / "tiny"
    before = tmp_path / "before"
    before.mkdir()
    shutil.copytree(build_dir, before, dirs_exist_ok=True)
    shard = shards(build_dir, "lock")[0]
    lines = shard.read_text().splitlines()
    for i, line in enumerate(lines):
        entry = json.loads(line)
        if entry["stage"] == "answer":
            entry["output"]["answer"] = "edited by hand"
            lines[i] = json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            edited = entry["key"]
            break
    shard.write_text("\n".join(lines) + "\n")
    result = glanc("check", str(tiny), "--store", str(tmp_path / "cache.duckdb"))
    assert "1 lock output(s) differ from what" in result.stderr and edited[:16] in result.stderr
    result = glanc("diff", str(before), str(build_dir), "--format", "json")
    assert json.loads(result.stdout)["outputs_changed_without_input"] == [
        {"stage": "answer", "key": edited}]
    assert "changed without their input" in glanc("diff", str(before), str(build_dir)).stdout


# -- smaller ----------------------------------------------------------------------------------

def test_a_misspelt_selector_names_the_whole_path(glanc):
    result = glanc("plan", str(ROOT / "taxonomies" / "science.yaml"), "-s",
                   "Natural Sciences/Physcs")
    assert result.exit_code == 2
    assert "no taxonomy node 'Natural Sciences/Physcs'" in one_line_error(result)


def test_a_spec_that_asks_for_no_rows_is_an_error_and_makes_no_call(glanc, tiny, tmp_path):
    tiny.write_text(tiny.read_text().replace("questions_per_subject: 3", "questions_per_subject: 0"))
    result = glanc("build", str(tiny), "-q")
    assert result.exit_code == 2 and "asks for no rows" in result.stderr
    assert not (tmp_path / "cache.duckdb").exists()


def test_a_spec_from_stdin(tmp_path):
    text = (SPECS / "good" / "tiny.yaml").read_text()
    proc = run_glanc("build", "-", "-q", "--store", str(tmp_path / "s.duckdb"), "--out",
                     str(tmp_path / "out"), input=text)
    assert proc.returncode == 0, proc.stderr
    card = (tmp_path / "out" / "tiny" / "README.md").read_text()
    assert "<stdin>" in card and "proc" not in card


def test_plan_reads_while_a_build_holds_the_store(glanc, tiny, tmp_path):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from glanc.store import Store; s = Store(sys.argv[1]); "
        "print('ready', flush=True); time.sleep(30)"), str(tmp_path / "cache.duckdb")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = glanc("plan", str(tiny), "--json", "--no-lock")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["lm_calls"] == 0
    finally:
        holder.kill()
        holder.wait()
