"""The DuckDB store: round trip, replace, and a clear error when it is in use."""

import subprocess
import sys
import time

import pytest

from glanc.errors import GlancError
from glanc.store import Record, Store


def record(key: str, status: str = "ok") -> Record:
    return Record(key=key, stage="answer", inputs={"question": "q"},
                  output={"answer": "a"} if status == "ok" else None, raw='{"answer": "a"}',
                  model="stub", tokens_in=3, tokens_out=2, latency_ms=1.5, status=status,
                  error=None if status == "ok" else "boom", attempts=1)


def test_round_trip_and_replace(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        store.put(record("k1", "failed"))
        store.put(record("k2"))
        assert store.get_many(["k1", "k2", "k3"]).keys() == {"k1", "k2"}
        store.put(record("k1"))
        assert store.get_many(["k1"], inputs=True)["k1"] == record("k1")
        store.flush()
        assert store.get_many(["k1"])["k1"].inputs is None  # not parsed unless asked
        assert store.count() == 2 and store.count("ok") == 2
    with Store(tmp_path / "s.duckdb") as store:  # committed: survives reopening
        assert store.count() == 2


def test_store_in_use_by_another_process(tmp_path):
    path = tmp_path / "s.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
        "print('ready', flush=True); time.sleep(30)"), str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        with pytest.raises(GlancError) as err:
            Store(path)
        assert f"process {holder.pid}" in str(err.value)
        assert "--store" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
