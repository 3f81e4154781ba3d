"""A pull request is untrusted input (issue 35).

Each case is committed as a hostile contributor would, in a scratch git
repository, and then the CI commands run on it (``glanc check`` and ``glanc
diff --base ... --format markdown``) or the command the case names. Each test
asserts the one-line message, the exit status, that nothing outside the
scratch repository changed (a sentinel tree hashed before and after) and that
no sentinel secret or file text appears in any output.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, SPECS

from glanc.cli import main

SENTINEL = "SENTINEL-7f3a9c-do-not-leak"
KEY = "sk-live-0123456789abcdefghij"


def tree_digest(folder: Path) -> str:
    """Every path, kind and byte under ``folder`` (links not followed)."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        h.update(str(path.relative_to(folder)).encode())
        if path.is_symlink():
            h.update(b"L" + os.readlink(path).encode())
        elif path.is_file():
            h.update(b"F" + path.read_bytes())
        else:
            h.update(b"D")
    return h.hexdigest()


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return done.stdout


@dataclass
class Repo:
    root: Path
    outside: Path
    digest: str

    def commit(self, message: str = "pull request") -> None:
        git(self.root, "add", "-A", "-f", ".")
        git(self.root, "commit", "-q", "-m", message)

    def run(self, *args: str):
        """A glanc command in the repository, as CI runs it."""
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        return result

    def untouched(self, *outputs: str, scan: bool = True) -> None:
        assert tree_digest(self.outside) == self.digest, "something outside the repo changed"
        for text in outputs:
            assert SENTINEL not in text
        for path in self.root.rglob("*") if scan else ():
            if path.is_file() and not path.is_symlink() and ".git" not in path.parts:
                assert SENTINEL.encode() not in path.read_bytes(), path


def one_line(result, *needles: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    print(f"\n{lines[0]}")  # pytest -s shows each case's message
    return lines[0]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Repo:
    """A taxonomy repository with a committed stub build (branch ``base``), and a
    sentinel tree outside it: victims to delete, secrets to leak."""
    root = tmp_path / "repo"
    (root / "taxonomies").mkdir(parents=True)
    shutil.copy(SPECS / "good" / "tiny.yaml", root / "taxonomies" / "tiny.yaml")
    outside = tmp_path / "outside"
    (outside / "victim").mkdir(parents=True)
    (outside / "victim" / "precious.txt").write_text("keep me\n")
    (outside / "victim2").mkdir()
    (outside / "victim2" / "a.tmp").write_text("keep me too\n")
    (outside / ".b.tmp").write_text("and me\n")
    (outside / "secret.txt").write_text(f"root:x:0:0:{SENTINEL}\n")
    row = {"id": "x", "path": ["Science", "Physics"], "messages": [
        {"role": "user", "content": SENTINEL}, {"role": "assistant", "content": SENTINEL}]}
    (outside / "chat.jsonl").write_text(json.dumps(row) + "\n")
    monkeypatch.chdir(root)
    git(root, "init", "-q", "-b", "main")
    result = CliRunner().invoke(main, ["build", "taxonomies/tiny.yaml", "-q"],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    git(root, "add", "-A", ".")
    git(root, "commit", "-q", "-m", "base")
    git(root, "branch", "base")
    return Repo(root, outside, tree_digest(outside))


def test_the_store_folder_ignores_itself_in_git(repo):
    assert (repo.root / ".glanc" / ".gitignore").read_text().strip().endswith("*")
    assert "cache.duckdb" not in git(repo.root, "ls-files")  # git add -A left .glanc/ out


def ci(repo: Repo) -> list:
    """The README's CI commands on the pull request: check, then the diff comment."""
    return [repo.run("check", "taxonomies/tiny.yaml"),
            repo.run("diff", "--base", "base", "--format", "markdown")]  # fmt: skip


def test_the_clean_repository_passes_ci(repo):
    check, diff = ci(repo)
    assert check.exit_code == 0, check.output
    assert diff.exit_code == 0, diff.output
    repo.untouched(check.output, diff.output)


# -- publish journals ------------------------------------------------------------------


@pytest.mark.parametrize("entry", [
    {"target": "tiny", "new": "../../outside/victim2", "old": "OUTSIDE/victim"},
    {"target": "tiny", "new": ".glanc-new-tiny-1-x", "old": "OUTSIDE/authorized_keys"},
    {"target": "../outside/victim", "new": ".glanc-new-x-1-x", "old": ".glanc-old-x-1-x"},
    {"target": "tiny", "new": ".glanc-new-tiny-1-x/../../../outside", "old": ".glanc-old-tiny-1-x"},
    "not json at all",
])
def test_a_committed_publish_journal_moves_and_deletes_nothing(repo, entry):
    if isinstance(entry, dict):
        entry = {k: v.replace("OUTSIDE", str(repo.outside)) for k, v in entry.items()}
        text = json.dumps(entry)
    else:
        text = entry
    (repo.root / "builds" / ".glanc-publish-tiny.json").write_text(text)
    (repo.root / "builds" / ".glanc-new-tiny-1-x").mkdir()
    (repo.root / "builds" / ".glanc-new-tiny-1-x" / "k").write_text("ssh-ed25519 AAAA attacker\n")
    repo.commit()
    for result in [*ci(repo), repo.run("build", "taxonomies/tiny.yaml", "-q")]:
        assert result.exit_code == 2, result.output
        one_line(result, ".glanc-publish-tiny.json", "not a publish journal glanc wrote")
    assert (repo.outside / "victim" / "precious.txt").exists()
    assert not (repo.outside / "authorized_keys").exists()
    repo.untouched()


# -- symlinks --------------------------------------------------------------------------


def test_a_build_folder_committed_as_a_symlink_is_neither_read_nor_written(repo):
    shutil.rmtree(repo.root / "builds" / "tiny")
    (repo.root / "builds" / "tiny").symlink_to(repo.outside / "victim2")
    repo.commit()
    for result in [*ci(repo), repo.run("build", "taxonomies/tiny.yaml", "-q")]:
        assert result.exit_code == 2, result.output
        one_line(result, "builds/tiny", "is a symlink")
    repo.untouched()


def test_tmp_files_in_a_symlinked_folder_are_not_deleted(repo):
    (repo.root / "builds" / "evil").symlink_to(repo.outside)
    (repo.root / "builds" / "evil2").symlink_to(repo.outside / "victim2")
    repo.commit()
    check, diff = ci(repo)
    assert check.exit_code == 0, check.output  # tiny itself is fine, and nothing is read
    assert diff.exit_code == 0, diff.output  # through the links (they hold no dataset)
    assert (repo.outside / "victim2" / "a.tmp").exists() and (repo.outside / ".b.tmp").exists()
    repo.untouched(check.output, diff.output)


@pytest.mark.parametrize("build", ["leak", "tiny"])
def test_a_dataset_symlinked_out_of_the_repository_never_reaches_output(repo, build):
    folder = repo.root / "builds" / build
    folder.mkdir(exist_ok=True)
    (folder / "dataset.jsonl").unlink(missing_ok=True)
    (folder / "dataset.jsonl").symlink_to(repo.outside / "chat.jsonl")
    repo.commit()
    results = [*ci(repo), repo.run("diff", "base:builds/tiny", f"builds/{build}"),
               repo.run("export", build), repo.run("report", build, "-o", "r.html")]
    if build == "leak":
        assert results[0].exit_code == 0  # the spec's own build is whole
        results = results[1:]
    for result in results:
        assert result.exit_code == 2, result.output
        one_line(result, "is a symlink")
    repo.untouched(*(r.output for r in results))


def test_a_store_folder_committed_as_a_symlink_is_refused(repo):
    shutil.rmtree(repo.root / ".glanc")
    (repo.root / ".glanc").symlink_to(repo.outside / "victim2")
    repo.commit()
    result = repo.run("build", "taxonomies/tiny.yaml", "-q")
    assert result.exit_code == 2
    one_line(result, ".glanc", "is a symlink")
    repo.untouched(result.output)


# -- files a spec names -------------------------------------------------------------------


def spec_with(repo: Repo, old: str, new: str) -> Path:
    path = repo.root / "taxonomies" / "tiny.yaml"
    path.write_text(path.read_text().replace(old, new))
    return path


@pytest.mark.parametrize("ref", ["ABS/secret.txt", "../../outside/secret.txt", "link.yaml"])
def test_a_template_outside_the_repository_is_not_read(repo, ref):
    (repo.root / "taxonomies" / "link.yaml").symlink_to(repo.outside / "secret.txt")
    spec_with(repo, "template: json", f"template: '{ref.replace('ABS', str(repo.outside))}'")
    repo.commit()
    for result in [repo.run("validate", "taxonomies/tiny.yaml"), ci(repo)[0]]:
        assert result.exit_code == 2, result.output
        assert "lies outside the spec's repository" in result.stderr
        assert "--allow-root" in result.stderr and "Traceback" not in result.output
        repo.untouched(result.output)


def test_allow_root_lets_a_spec_name_a_file_elsewhere(repo):
    (repo.outside / "bench.jsonl").write_text('{"text": "a benchmark question"}\n')
    spec_with(repo, "quality: {enabled: false}",
              f"quality: {{enabled: false, decontaminate: ['{repo.outside}/bench.jsonl']}}")
    assert repo.run("validate", "taxonomies/tiny.yaml").exit_code == 2
    result = repo.run("--allow-root", str(repo.outside), "validate", "taxonomies/tiny.yaml")
    assert result.exit_code == 0, result.output


def test_a_template_inside_the_repository_is_not_echoed_in_an_error(repo):
    (repo.root / "taxonomies" / "notes.yaml").write_text(f"'{SENTINEL} a whole file of text'\n")
    spec_with(repo, "template: json", "template: notes.yaml")
    result = repo.run("validate", "taxonomies/tiny.yaml")
    assert result.exit_code == 2 and "must be of type object" in result.output
    repo.untouched(result.output, scan=False)


@pytest.mark.parametrize("setting", [
    "quality: {enabled: false, decontaminate: [/proc/kmsg]}",
    "quality: {enabled: false, decontaminate: [kmsg.jsonl]}",
    "quality: {enabled: false, decontaminate: [fifo.jsonl]}",
])
def test_a_device_or_proc_file_named_by_a_spec_fails_at_once(repo, setting):
    (repo.root / "taxonomies" / "kmsg.jsonl").symlink_to("/proc/kmsg")
    os.mkfifo(repo.root / "taxonomies" / "fifo.jsonl")
    spec_with(repo, "quality: {enabled: false}", setting)
    for command in ("check", "plan", "validate"):
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "glanc", command, "taxonomies/tiny.yaml"],
                              cwd=repo.root, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert time.monotonic() - started < 30
        assert "outside the spec's repository" in done.stderr or "not a regular file" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_model_file_symlinked_to_proc_is_refused(repo):
    (repo.root / "m.gguf").symlink_to("/proc/kmsg")
    spec_with(repo, "generator: stub", "generator: ../m.gguf")
    result = repo.run("validate", "taxonomies/tiny.yaml")
    assert result.exit_code == 2 and "model file" in result.output
    assert "outside the spec's repository" in result.output


# -- the store's journal and the lock ---------------------------------------------------------


def test_a_committed_store_journal_is_never_replayed(repo):
    line = json.loads(json.dumps({"keep": False, "key": "0" * 64, "stage": "question",
                                  "output": {"question": SENTINEL}}))  # fmt: skip
    (repo.root / ".glanc" / "cache.duckdb.journal").write_text(json.dumps(line) + "\n")
    repo.commit()
    assert "cache.duckdb.journal" in git(repo.root, "ls-files")
    for result in [repo.run("build", "taxonomies/tiny.yaml", "-q"),
                   repo.run("check", "taxonomies/tiny.yaml")]:  # fmt: skip
        assert result.exit_code == 2, result.output
        one_line(result, "cache.duckdb.journal", "git tracks", "git rm --cached")
    repo.untouched(scan=False)


def lock_lines(repo: Repo) -> list[dict]:
    return [json.loads(x) for x in (repo.root / "builds/tiny/lock/science/physics.jsonl").read_text().splitlines()]


def write_lock(repo: Repo, entries: list[dict]) -> None:
    text = "".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n" for e in entries)
    (repo.root / "builds/tiny/lock/science/physics.jsonl").write_text(text)


def store_rows(repo: Repo) -> list:
    import duckdb

    con = duckdb.connect(str(repo.root / ".glanc/cache.duckdb"), read_only=True)
    try:
        return con.execute("SELECT key, output FROM nodes ORDER BY key, output").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("where", ["adjacent", "apart"])
def test_a_key_on_two_lines_is_refused_naming_both_and_the_store_stays_clean(repo, where):
    entries = lock_lines(repo)
    before = store_rows(repo)
    twin = dict(entries[2], output=dict(entries[2]["output"]))
    first = next(iter(twin["output"]))
    twin["output"][first] = SENTINEL if isinstance(twin["output"][first], str) else []
    entries.insert(3 if where == "adjacent" else len(entries), twin)
    write_lock(repo, entries)
    repo.commit()
    expected_line = 4 if where == "adjacent" else len(entries)
    for result in [*ci(repo)[:1], repo.run("build", "taxonomies/tiny.yaml", "-q"),
                   repo.run("plan", "taxonomies/tiny.yaml")]:  # fmt: skip
        assert result.exit_code == 2, result.output
        one_line(result, f"physics.jsonl:{expected_line}:", "is also on line 3",
                 "the store untouched")  # fmt: skip
    assert store_rows(repo) == before
    git(repo.root, "checkout", "base", "--", "builds/tiny/lock/science/physics.jsonl")
    assert repo.run("check", "taxonomies/tiny.yaml").exit_code == 0


BAD_OUTPUTS = [
    ("subjects", {"subjects": "nope"}, "output 'subjects' of this subjects node must be of type array"),
    ("subjects", {"subjects": None}, "must be of type array"),
    ("subjects", {"subjects": [1, 2, 3]}, "must be an array of objects"),
    ("subjects", {"subjects": [{"level": "x"}]}, "'name' must be of type string"),
    ("syllabus", {"sessions": "nope"}, "output 'sessions' of this syllabus node must be of type array"),
    ("syllabus", {"sessions": [{"name": "s", "key_concepts": 7}]}, "'key_concepts' must be of type array"),
    ("question", {"question": [1]}, "output 'question' of this question node must be of type string"),
    ("answer", None, "'output' of this answer node must be a JSON object"),
]


@pytest.mark.parametrize("stage, output, message", BAD_OUTPUTS)
def test_a_lock_output_of_the_wrong_shape_is_refused_before_it_is_stored(repo, stage, output,
                                                                        message):
    entries = lock_lines(repo)
    before = store_rows(repo)
    index = next(i for i, e in enumerate(entries) if e["stage"] == stage)
    entries[index] = dict(entries[index], output=output)
    write_lock(repo, entries)
    repo.commit()
    for result in [ci(repo)[0], repo.run("build", "taxonomies/tiny.yaml", "-q")]:
        assert result.exit_code == 2, result.output
        one_line(result, f"physics.jsonl:{index + 1}:", message)
    assert store_rows(repo) == before


@pytest.mark.parametrize("change, message", [
    (lambda e: dict(e, key=12345), "'key' must be 64 lowercase hex digits"),
    (lambda e: dict(e, key="../../etc"), "'key' must be 64 lowercase hex digits"),
    (lambda e: dict(e, stage="oops"), "'stage' must be one of"),
    (lambda e: dict(e, tokens="many"), "'tokens' must be"),
    (lambda e: [e], "not a JSON object"),
])
def test_a_lock_line_that_is_no_node_is_refused(repo, change, message):
    entries = lock_lines(repo)
    entries[1] = change(entries[1])
    write_lock(repo, entries)
    repo.commit()
    result = ci(repo)[0]
    assert result.exit_code == 2
    one_line(result, "physics.jsonl:2:", message)


@pytest.mark.parametrize("index, old, new, needle", [
    (0, '"tokens":[', '"tokens":[NaN,', "a NaN"),
    (2, '"output":{', '"output":{"note":"\\ud800",', "lone surrogate"),
])
def test_a_nan_or_a_lone_surrogate_in_a_lock_is_refused(repo, index, old, new, needle):
    path = repo.root / "builds/tiny/lock/science/physics.jsonl"
    lines = path.read_text().splitlines()
    lines[index] = lines[index].replace(old, new, 1)
    path.write_text("\n".join(lines) + "\n")
    result = repo.run("check", "taxonomies/tiny.yaml")
    assert result.exit_code == 2
    one_line(result, f"physics.jsonl:{index + 1}:", needle)


# -- the spec's schema ---------------------------------------------------------------------


@pytest.mark.parametrize("old, new", [
    ("questions_per_subject: 3", "questions_per_subject: 3\n  challenging_ratio: .nan"),
    ("questions_per_subject: 3", "questions_per_subject: 3\n  decoding: {temperature: .inf}"),
    ("generator: stub,", "generator: {id: stub, latency_ms: .nan},"),
])
def test_nan_and_infinity_are_refused_with_their_line(repo, old, new):
    spec_with(repo, old, new)
    for command in ("validate", "plan", "build"):
        result = repo.run(command, "taxonomies/tiny.yaml")
        assert result.exit_code == 2, result.output
        assert "must be a finite number" in result.stderr and "Traceback" not in result.output
        assert "taxonomies/tiny.yaml:" in result.stderr


def test_a_name_in_nfc_and_nfd_is_one_name(repo):
    import unicodedata

    nfc, nfd = unicodedata.normalize("NFC", "Café"), unicodedata.normalize("NFD", "Café")
    assert nfc != nfd
    spec_with(repo, "      - name: Physics\n",
              f"      - name: {nfc}\n      - name: {nfd}\n      - name: Physics\n")
    result = repo.run("validate", "taxonomies/tiny.yaml")
    assert result.exit_code == 2
    assert "already defined at line" in result.output


@pytest.mark.parametrize("old, new, message", [
    ("name: tiny", 'name: "tiny\\n"', "control character U+000A"),
    ("      - name: Physics", f"      - name: {'P' * 300}", "longer than 100 characters"),
    ("      - name: Physics", f"      - name: {'é' * 101}", "longer than 100 characters"),
])
def test_names_that_no_file_system_takes_are_refused_at_validate(repo, old, new, message):
    spec_with(repo, old, new)
    result = repo.run("validate", "taxonomies/tiny.yaml")
    assert result.exit_code == 2, result.output
    assert message in result.output


# -- replies from a hostile server ----------------------------------------------------------


class Hostile(BaseHTTPRequestHandler):
    mode = "echo"

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        mode = self.server.mode
        if mode == "echo":  # a 401 that shows the request's credentials back, as some proxies do
            # padded so that the credential straddles character 200 of the error text,
            # where glanc cuts it: {"message": "xxx... auth: Basic <token>"}
            auth = self.headers.get("Authorization", "")
            pad = 200 - len('{"message": "') - len(" auth: ") - len(auth) // 2
            body = json.dumps({"message": "x" * pad + " auth: " + auth})
            self._send(401, body.encode())
        elif mode == "key":  # a 200 whose answer holds the API key
            self._send(200, completion(f"Here is your key: {KEY}"))
        elif mode == "surrogate":
            self._send(200, completion("broken \ud800 text"))
        elif mode == "trickle":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(40):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.5)
        elif mode == "endless":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            for _ in range(2000):  # at most 131 MB, then stop
                try:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except OSError:
                    return

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def completion(text: str) -> bytes:
    """A chat completion whose content is a subjects output naming ``text``; the
    body is ASCII JSON, so a lone surrogate in ``text`` arrives as ``\\ud800``."""
    content = json.dumps({"subjects": [{"name": text, "level": "x", "subtopics": ["a"]}]},
                         ensure_ascii=False)  # fmt: skip
    body = {"choices": [{"message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1}}  # fmt: skip
    return json.dumps(body).encode()


@pytest.fixture
def hostile():
    servers = []

    def start(mode: str) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
        server.mode = mode
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def remote(tmp_path: Path, base: str, extra: str = "") -> Path:
    path = tmp_path / "remote.yaml"
    model = f"{{id: openai/fake, api_base: 'env:GLANC_HOSTILE_URL', timeout: 2, max_retries: 0{extra}}}"
    path.write_text(
        "glanc: 1\nname: remote\nseed: 3\ntemplate: json\nquality: {enabled: false}\n"
        f"settings:\n  models: {{generator: {model}, answerer: {model}}}\n"
        "  subject_samples: 1\n  max_subjects: 1\n  questions_per_subject: 1\n"
        "taxonomy:\n  - name: Science\n    children:\n      - name: Physics\n"
    )
    return path


def remote_build(tmp_path: Path, path: Path, *extra: str):
    return CliRunner().invoke(main, ["build", str(path), "-q", "--json", "--store",
                                     str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "out"),
                                     *extra], catch_exceptions=False)  # fmt: skip


def store_text(tmp_path: Path) -> str:
    import duckdb

    con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    try:
        return json.dumps(con.execute("SELECT * FROM nodes").fetchall(), default=str)
    finally:
        con.close()


def leaked(secret: str, text: str) -> list[str]:
    """Pieces of ``secret`` (six characters or more) found in ``text``: a cut
    through a secret leaves one that no whole-secret match finds."""
    return [secret[i : i + 6] for i in range(len(secret) - 5) if secret[i : i + 6] in text]


def test_a_password_echoed_as_basic_auth_is_redacted_in_every_form(tmp_path, hostile,
                                                                  monkeypatch):
    import base64

    base = hostile("echo")
    monkeypatch.setenv("GLANC_HOSTILE_URL", base.replace("http://", "http://bob:hunter2pass@"))
    result = remote_build(tmp_path, remote(tmp_path, base))
    assert result.exit_code == 1
    token = base64.b64encode(b"bob:hunter2pass").decode()
    everything = result.output + store_text(tmp_path)
    assert "HTTP 401" in everything and "auth: Basic ***" in everything
    assert not leaked(token, everything) and "hunter2pass" not in everything


def test_a_key_echoed_across_the_cut_leaves_no_piece(tmp_path, hostile, monkeypatch):
    base = hostile("echo")
    monkeypatch.setenv("GLANC_HOSTILE_URL", base)
    monkeypatch.setenv("GLANC_HOSTILE_KEY", KEY)
    result = remote_build(tmp_path, remote(tmp_path, base, ", api_key_env: GLANC_HOSTILE_KEY"))
    assert result.exit_code == 1
    everything = result.output + store_text(tmp_path)
    assert "HTTP 401" in everything and "auth: Bearer ***" in everything
    assert not leaked(KEY, everything)


def test_a_reply_that_holds_the_key_is_never_exported(tmp_path, hostile, monkeypatch):
    base = hostile("key")
    monkeypatch.setenv("GLANC_HOSTILE_URL", base)
    monkeypatch.setenv("GLANC_HOSTILE_KEY", KEY)
    result = remote_build(tmp_path, remote(tmp_path, base, ", api_key_env: GLANC_HOSTILE_KEY"))
    assert result.exit_code == 1
    assert "holds a credential of this model" in store_text(tmp_path)
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes()
    assert KEY not in result.output + store_text(tmp_path)


def test_a_lone_surrogate_in_a_reply_fails_its_node_with_a_reason(tmp_path, hostile, monkeypatch):
    base = hostile("surrogate")
    monkeypatch.setenv("GLANC_HOSTILE_URL", base)
    result = remote_build(tmp_path, remote(tmp_path, base))
    assert result.exit_code == 1, result.output
    assert "lone surrogate U+D800" in store_text(tmp_path)


def test_a_trickling_server_meets_the_whole_call_deadline(tmp_path, hostile, monkeypatch):
    base = hostile("trickle")
    monkeypatch.setenv("GLANC_HOSTILE_URL", base)
    started = time.monotonic()
    result = remote_build(tmp_path, remote(tmp_path, base))
    assert result.exit_code == 1, result.output
    assert time.monotonic() - started < 12  # timeout: 2, a byte every 0.5 s for 20 s
    assert "no whole reply within 2s" in store_text(tmp_path)


def test_an_endless_body_is_cut_at_the_reply_cap(tmp_path, hostile, monkeypatch):
    base = hostile("endless")
    monkeypatch.setenv("GLANC_HOSTILE_URL", base)
    path = remote(tmp_path, base, ", max_reply_mb: 1")
    path.write_text(path.read_text().replace("timeout: 2", "timeout: 60"))
    result = remote_build(tmp_path, path)
    assert result.exit_code == 1, result.output
    assert "reply larger than 1 MB" in store_text(tmp_path)


# -- signals and small ones -------------------------------------------------------------------


def children(pid: int) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return {int(p) for p in found.stdout.split()}


def test_sigterm_ends_a_build_and_every_process_it_started(tmp_path):
    spec = tmp_path / "slow.yaml"
    spec.write_text((SPECS / "good" / "tiny.yaml").read_text().replace(
        "models: {generator: stub, answerer: stub}",
        "models: {generator: {id: stub, latency_ms: 300}, answerer: {id: stub, latency_ms: 300}}"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "glanc", "build", str(spec), "--store", str(tmp_path / "s.duckdb"),
         "--out", str(tmp_path / "out"), "--processes", "2", "-q"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    seen: set[int] = set()
    while time.monotonic() < deadline and len(seen) < 3:  # two workers and the tracker
        seen |= children(proc.pid)
        time.sleep(0.1)
    assert len(seen) >= 2, "the workers never started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: terminated (SIGTERM)"), err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in seen):
        time.sleep(0.1)
    alive = [p for p in seen if Path(f"/proc/{p}").exists()
             and "zombie" not in Path(f"/proc/{p}/status").read_text().lower()]  # fmt: skip
    assert not alive, "processes outlived the build"


def test_export_does_not_overwrite_without_force(repo):
    (repo.root / "mine.jsonl").write_text("my own work\n")
    result = repo.run("export", "tiny", "-o", "mine.jsonl")
    assert result.exit_code == 2
    one_line(result, "mine.jsonl: exists", "--force")
    assert (repo.root / "mine.jsonl").read_text() == "my own work\n"
    assert repo.run("export", "tiny", "-o", "mine.jsonl", "--force").exit_code == 0
    assert (repo.root / "mine.jsonl").read_text() != "my own work\n"


def test_suggest_into_a_missing_folder_names_the_file_asked_for(repo):
    result = repo.run("suggest", "--new", "everything", "-o", "nowhere/everything.yaml",
                      "--model", "stub")
    assert result.exit_code == 2
    line = one_line(result, "nowhere/everything.yaml", "does not exist")
    assert ".everything.yaml." not in line


@pytest.mark.parametrize("name, kind", [("data/science/physics.jsonl", "dataset"),
                                        ("lock/science/physics.jsonl", "lock")])
def test_a_malformed_file_in_a_pull_request_is_one_line_in_diff(repo, name, kind):
    (repo.root / "builds" / "tiny" / name).write_text(f'{{"id": "{SENTINEL}", oops\n')
    repo.commit()
    result = ci(repo)[1]
    assert result.exit_code == 2
    one_line(result, f"builds/tiny/{name}: not a glanc {kind} file (malformed JSON")
    repo.untouched(result.output, scan=False)


def test_a_builds_folder_committed_as_a_symlink_is_refused(repo):
    shutil.move(repo.root / "builds", repo.outside / "moved-builds")
    (repo.root / "builds").symlink_to(repo.outside / "moved-builds")
    repo.digest = tree_digest(repo.outside)
    repo.commit()
    for result in [repo.run("check", "taxonomies/tiny.yaml"),
                   repo.run("build", "taxonomies/tiny.yaml", "-q")]:  # fmt: skip
        assert result.exit_code == 2, result.output
        one_line(result, "builds: is a symlink")
    repo.untouched(scan=False)
