import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from glanc.cli import main

SPECS = Path(__file__).parent / "specs"
ROOT = Path(__file__).parent.parent
SERVER = ROOT / "tests" / "servers" / "fake_openai.py"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A copy of the tiny stub-model taxonomy, safe to edit."""
    dest = tmp_path / "tiny.yaml"
    shutil.copy(SPECS / "good" / "tiny.yaml", dest)
    return dest


@pytest.fixture
def glanc(tmp_path: Path):
    """Run the CLI in-process with a store and builds dir under tmp_path."""
    runner = CliRunner()

    def run(*args: str, store: bool = True):
        argv = list(args)
        if store and argv and argv[0] in ("build", "plan", "gc"):
            argv += ["--store", str(tmp_path / "cache.duckdb")]
        if store and argv and argv[0] in ("build", "plan", "check", "export", "gc"):
            argv += ["--out", str(tmp_path / "builds")]
        return runner.invoke(main, argv, catch_exceptions=False)

    return run


def wait_for_a_finished_node(store: Path, proc, seconds: float = 60) -> None:
    """Until the build ``proc`` runs has finished a node: a line in its store's
    journal, written as each call finishes (cleared at each commit, a second
    later at most). ``ok_records`` commits what a kill left there."""
    journal = Path(f"{store}.journal")
    deadline = time.monotonic() + seconds
    while not (journal.exists() and journal.stat().st_size > 0):
        assert proc.poll() is None, "the build ended before it finished a node"
        assert time.monotonic() < deadline, "the build never finished a node"
        time.sleep(0.005)


def ok_records(store: Path) -> dict[str, object]:
    """Each finished node's key and when it was recorded: a resumed build must
    leave these as they were."""
    import duckdb

    from glanc.store import Store

    with Store(store):  # commits what a killed build left in the store's journal
        pass
    con = duckdb.connect(str(store), read_only=True)
    try:
        return dict(con.execute("SELECT key, created_at FROM nodes WHERE status = 'ok'").fetchall())
    finally:
        con.close()


def merged(build_dir: Path, kind: str = "data") -> bytes:
    """A build's shards of one kind (data, lock, dropped) as one file's bytes, by id
    (by key, for the lock): what dataset.jsonl held before the sharded layout."""
    key = "key" if kind == "lock" else "id"
    lines = [line for path in shards(build_dir, kind)
             for line in path.read_bytes().splitlines(keepends=True)]  # fmt: skip
    return b"".join(sorted(lines, key=lambda line: (json.loads(line)[key], line)))


def shards(build_dir: Path, kind: str = "data") -> list[Path]:
    """A build's files of one kind, sorted."""
    folder = build_dir / kind
    return sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []


def rows_of(build_dir: Path, kind: str = "data") -> list[dict]:
    return [json.loads(line) for line in merged(build_dir, kind).splitlines()]


def artifact_files(build_dir: Path) -> dict[str, bytes]:
    """Every file of a build directory, by its path in it."""
    return {p.relative_to(build_dir).as_posix(): p.read_bytes()
            for p in sorted(build_dir.rglob("*")) if p.is_file()}  # fmt: skip


def build_process(spec: Path, tmp_path: Path, name: str, *args: str, env: dict | None = None):
    """A build in its own process (what it starts, Ray or worker processes, goes
    with it): (the finished process, its build directory)."""
    proc = subprocess.run(
        [sys.executable, "-m", "glanc", "build", str(spec), "--store", str(tmp_path / f"{name}.duckdb"),
         "--out", str(tmp_path / name), "--json", "-q", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=300, env=env,
    )  # fmt: skip
    return proc, tmp_path / name / spec.stem


def same_files(a: Path, b: Path) -> None:
    """Two build directories hold the same artifact, byte for byte."""
    files_a, files_b = artifact_files(a), artifact_files(b)
    assert sorted(files_a) == sorted(files_b)
    for name in files_a:
        assert files_a[name] == files_b[name], name


def summary(result) -> dict:
    return json.loads(result.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake_server():
    procs = []

    def start(**options) -> str:
        port = free_port()
        args = [sys.executable, str(SERVER), "--port", str(port)]
        for k, v in options.items():
            args += [f"--{k.replace('_', '-')}", str(v)]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        return f"http://127.0.0.1:{port}/v1"

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()
