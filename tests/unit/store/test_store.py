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


def test_a_key_put_again_after_a_flush_keeps_one_row(tmp_path):
    """Without a primary key the store keeps keys unique itself: a forced or
    retried node replaces its row, it never adds a second one."""
    with Store(tmp_path / "s.duckdb") as store:
        store.put(record("k1", "failed"))
        store.flush()
        store.put(record("k1"))
        store.flush()
        assert store.count() == 1 and store.count("ok") == 1
    with Store(tmp_path / "s.duckdb") as store:  # the key index is loaded from the file
        store.put(record("k1", "failed"))
        store.flush()
        assert store.count() == 1 and store.count("failed") == 1


def test_a_keyed_store_is_rebuilt_without_its_key(tmp_path):
    """Stores made before 2026-12 had ``key VARCHAR PRIMARY KEY``, whose index
    DuckDB held whole in memory; opening one for writing rebuilds the table
    without it, with the same rows."""
    import duckdb

    from glanc.store.opening import has_key_index
    from glanc.store.records import SCHEMA

    path = tmp_path / "s.duckdb"
    with Store(path) as store:
        store.put(record("k1"))
        store.put(record("k2", "failed"))
    con = duckdb.connect(str(path))
    rows = con.execute("SELECT * FROM nodes ORDER BY key").fetchall()
    con.execute("DROP TABLE nodes")
    keyed = SCHEMA.replace("key         VARCHAR NOT NULL", "key VARCHAR PRIMARY KEY", 1)
    assert keyed != SCHEMA
    con.execute(keyed)
    con.executemany(f"INSERT INTO nodes VALUES ({', '.join('?' * len(rows[0]))})", rows)
    assert has_key_index(con)
    con.close()
    with Store(path) as store:
        assert not has_key_index(store.con)
        assert store.con.execute("SELECT * FROM nodes ORDER BY key").fetchall() == rows
        store.put(record("k2"))
        store.flush()
        assert store.count() == 2 and store.count("ok") == 2


def test_file_bands_find_the_lines_sharing_bands_and_are_recorded_once(tmp_path):
    """A file's band keys are recorded once, by its sha256, and reopen with the store;
    ``sharing`` finds the lines of the chosen files that share enough bands with a
    probe row, and nothing from a file that was not chosen."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2**32, (3, 32), dtype=np.uint32), rng.integers(0, 2**32, (2, 32), dtype=np.uint32)
    probe = a[[1]].copy()
    probe[0, :20] = 7  # 12 bands left in common with a's line 1
    with Store(tmp_path / "s.duckdb") as store:
        ids = store.file_bands.add([("sha-a", np.array([0, 4, 9]), a), ("sha-b", np.array([2, 3]), b)])
        assert store.file_bands.add([("sha-a", np.array([0]), a[:1])]) == {"sha-a": ids["sha-a"]}
        assert store.file_bands.sharing(probe, [ids["sha-a"], ids["sha-b"]], 12) == [(0, ids["sha-a"], 4)]
        assert store.file_bands.sharing(probe, [ids["sha-a"]], 13) == []
        assert store.file_bands.sharing(probe, [ids["sha-b"]], 1) == []
        both = np.vstack([probe, b[[1]]])
        assert store.file_bands.sharing(both, [ids["sha-b"]], 32) == [(1, ids["sha-b"], 3)]
    with Store(tmp_path / "s.duckdb") as store:
        assert store.file_bands.ids(["sha-a", "sha-b", "sha-c"]) == ids
