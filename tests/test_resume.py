"""Safety: a build killed with SIGKILL resumes without redoing finished nodes and
ends with the same bytes; a busy store is an error or a wait; gc removes only
what no spec reaches."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from conftest import ROOT, artifact_files, merged, ok_records, summary, wait_for_a_finished_node

SPEC = """\
glanc: 1
name: resume
seed: 7
settings:
  models:
    generator: {id: stub, latency_ms: 100}
    answerer: {id: stub, latency_ms: 100}
  subject_samples: 2
  subjects_per_sample: 3
  max_subjects: 2
  questions_per_subject: 3
taxonomy:
  - name: Science
    children:
      - name: Physics
      - name: Chemistry
      - name: Biology
      - name: Geology
"""
TOTAL_CALLS = 4 * (2 + 2 + 6 + 6)


def glanc_process(spec: Path, store: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "glanc", "build", str(spec), "--store", str(store),
         "--out", str(out), "--json", "-q", "--concurrency", "2", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )



def kill_mid_run(spec: Path, store: Path, out: Path, rng: random.Random, *extra: str) -> None:
    """Start a build (``extra``: more build arguments), wait until it has committed
    a node, then SIGKILL it at a random moment."""
    proc = glanc_process(spec, store, out, *extra)
    wait_for_a_finished_node(store, proc)
    time.sleep(rng.uniform(0.05, 0.8))
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the build finished before it could be killed"


def test_sigkill_then_resume_redoes_nothing_and_writes_the_same_bytes(glanc, tmp_path):
    spec = tmp_path / "resume.yaml"
    spec.write_text(SPEC)
    reference = glanc("build", str(spec), "--json", "-q", "--concurrency", "4")
    assert reference.exit_code == 0 and summary(reference)["lm_calls"] == TOTAL_CALLS
    expected = merged(tmp_path / "builds" / "resume")

    store, out = tmp_path / "killed.duckdb", tmp_path / "killed-builds"
    rng = random.Random(os.getpid())
    finished: dict[str, object] = {}
    for _ in range(2):  # two kills at different moments, each resumed by the next run
        kill_mid_run(spec, store, out, rng)
        now = ok_records(store)
        assert all(now[k] == t for k, t in finished.items()), "a finished node was recomputed"
        assert len(now) > len(finished)
        finished = now
    assert 0 < len(finished) < TOTAL_CALLS
    assert not (out / "resume").exists()  # never a half-written dataset

    proc = glanc_process(spec, store, out)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert json.loads(stdout)["lm_calls"] == TOTAL_CALLS - len(finished)
    final = ok_records(store)
    assert all(final[k] == t for k, t in finished.items())
    assert merged(out / "resume") == expected


def test_a_build_killed_while_adding_disciplines_resumes_to_the_bytes_of_a_scratch_build(
        glanc, tmp_path):
    """The sharded artifact's one rule, for a kill: four disciplines built, four more
    added, the build killed halfway and run again: every file is what a build of the
    eight from an empty store writes, and the four's files stood untouched meanwhile."""
    added = "".join(f"      - name: {n}\n" for n in ("Botany", "Zoology", "Ecology", "Optics"))
    spec = tmp_path / "resume.yaml"
    spec.write_text(SPEC + added)
    assert glanc("build", str(spec), "-q", "--concurrency", "4").exit_code == 0
    scratch = artifact_files(tmp_path / "builds" / "resume")

    store, out = tmp_path / "grown.duckdb", tmp_path / "grown"
    spec.write_text(SPEC)
    proc = glanc_process(spec, store, out)
    assert proc.communicate(timeout=120) and proc.returncode == 0
    four = artifact_files(out / "resume")
    spec.write_text(SPEC + added)
    kill_mid_run(spec, store, out, random.Random(1))
    assert artifact_files(out / "resume") == four  # the kill left the old artifact whole
    proc = glanc_process(spec, store, out)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert 0 < json.loads(stdout)["lm_calls"] < 4 * (2 + 2 + 6 + 6)  # the rest of the four
    assert json.loads(stdout)["carried_over"] == 4  # the first four, not walked again
    assert artifact_files(out / "resume") == scratch


def hold_store(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
        f"print('ready', flush=True); time.sleep({seconds}); c.close()"), str(path)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "ready"
    return holder


def test_busy_store_is_an_error_naming_the_process_or_a_wait(glanc, tiny, tmp_path):
    holder = hold_store(tmp_path / "cache.duckdb", 30)
    try:
        for command in ("build", "plan"):
            result = glanc(command, str(tiny), "-q" if command == "build" else "--json")
            assert result.exit_code == 2
            assert f"in use by process {holder.pid}" in result.stderr and "--wait" in result.stderr
    finally:
        holder.kill()
        holder.wait()

    holder = hold_store(tmp_path / "cache.duckdb", 1.5)
    try:
        result = glanc("build", str(tiny), "-q", "--json", "--wait")
        assert result.exit_code == 0, result.output
        assert "waiting: " in result.stderr and f"process {holder.pid}" in result.stderr
        assert summary(result)["rows"] == 9
    finally:
        holder.wait()


def test_gc_removes_only_unreachable_rows(glanc, tiny, tmp_path):
    assert glanc("build", str(tiny), "-q").exit_code == 0
    template = (ROOT / "glanc" / "templates" / "json.yaml").read_text()
    (tmp_path / "mine.yaml").write_text(template.replace("expert tutor", "kind tutor"))
    changed = tmp_path / "changed.yaml"
    changed.write_text(tiny.read_text().replace("template: json", "template: mine.yaml"))
    assert glanc("build", str(changed), "-q").exit_code == 0  # same name: same builds dir

    both = glanc("gc", str(tiny), str(changed), "--dry-run")
    assert both.exit_code == 0 and both.stdout.startswith("would remove 0 row(s)")

    dry = glanc("gc", str(changed), "--dry-run")
    assert dry.exit_code == 0
    assert dry.stdout.splitlines()[0] == "would remove 9 row(s); 23 reachable node(s) kept"
    assert "nodes    answer    9" in dry.stdout
    con = duckdb.connect(str(tmp_path / "cache.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM nodes").fetchone() == (32,)
    con.close()

    done = glanc("gc", str(changed))
    assert done.exit_code == 0 and done.stdout.startswith("removed 9 row(s)")
    assert glanc("plan", str(changed), "--json").stdout.count('"run": 0') == 4
    # the first spec's answers are gone: it would now rerun exactly those
    p = json.loads(glanc("plan", str(tiny), "--json").stdout)
    assert p["lm_calls"] == 9 and p["stages"]["answer"]["reasons"] == {"program_changed": 9}


def test_ctrl_c_during_a_store_query_is_an_interrupt(tiny, tmp_path, monkeypatch):
    """DuckDB turns a SIGINT that lands during one of its queries into
    RuntimeError('Query interrupted') and leaves no KeyboardInterrupt: the build
    still stops as interrupted (calls in flight abandoned, the CLI exits at once)
    rather than failing with a traceback and then waiting for its threads."""
    import pytest

    from glanc import BuildOptions, Workspace, build, load_taxonomy
    from glanc.errors import Interrupted
    from glanc.store.nodes import Store

    def interrupted_query(self):
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(Store, "flush_if_due", interrupted_query)
    workspace = Workspace(store=tmp_path / "s.duckdb", builds=tmp_path / "out")
    with pytest.raises(Interrupted) as caught:
        build(load_taxonomy(tiny), workspace, BuildOptions(model="stub"))
    assert caught.value.abandon and "run the same command again to resume" in str(caught.value)
    assert not (tmp_path / "out" / "tiny").exists()
