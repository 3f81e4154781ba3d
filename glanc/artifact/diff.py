"""Compare two builds' datasets row by row, in DuckDB.

Rows are matched by their stable id (discipline, subject, question index), so
a template or model change shows as *changed* rows rather than removed and
added ones. DuckDB reads both JSONL files and does the join, so a diff of
hundreds of thousands of rows never loads them into Python objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import GlancError
from ..options import DATA, DROPS, LOCKS

KINDS = ("added", "removed", "changed")


@dataclass(frozen=True)
class Sample:
    kind: str
    id: str
    subject: str
    question: str
    answer: str
    old_question: str | None = None
    old_answer: str | None = None
    fields: tuple[str, ...] = ()  # for changed rows: what changed


@dataclass(frozen=True)
class Group:
    """The changes under one taxonomy path (a discipline)."""

    path: str
    added: int
    removed: int
    changed: int
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class Diff:
    old: str
    new: str
    old_rows: int
    new_rows: int
    added: int
    removed: int
    changed: int
    groups: tuple[Group, ...]
    # (stage, key) of lock entries whose output changed while their key (all the
    # call's inputs) stayed: a hand-edited lock, or a call made again (--force)
    rewritten: tuple[tuple[str, str], ...] = ()
    # (check, rows it dropped in old, in new) for the checks whose counts differ
    dropped: tuple[tuple[str, int, int], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.rewritten or self.dropped)

    def as_json(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "rows": {"old": self.old_rows, "new": self.new_rows},
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "outputs_changed_without_input": [
                {"stage": stage, "key": key} for stage, key in self.rewritten
            ],
            **(
                {"dropped": {c: {"old": o, "new": n} for c, o, n in self.dropped}}
                if self.dropped
                else {}
            ),
            "groups": [
                {
                    "path": g.path,
                    "added": g.added,
                    "removed": g.removed,
                    "changed": g.changed,
                    "samples": [
                        {k: v for k, v in s.__dict__.items() if v not in (None, ())}
                        for s in g.samples
                    ],
                }
                for g in self.groups
            ],
        }


Files = Path | Sequence[Path] | None  # one file, a build's shards of one kind, or none


def _files(files: Files) -> list[Path]:
    """The files of ``files`` that exist and hold something."""
    if files is None:
        return []
    listed = [files] if isinstance(files, Path) else list(files)
    return [f for f in listed if f.is_file() and f.stat().st_size]


def _source(con, name: str, path: Files) -> None:
    files = _files(path)
    if not files:
        con.execute(f"CREATE TEMP TABLE {name} (id VARCHAR, path VARCHAR, line JSON)")
        return
    _query(
        con,
        f"""
        CREATE TEMP TABLE {name} AS
        SELECT json ->> 'id' AS id,
               array_to_string(CAST(json -> 'taxonomy_path' AS VARCHAR[]), '/') AS path,
               json AS line
        FROM read_json_objects(?, format = 'newline_delimited')
        """,
        [files],
        "dataset",
    )


def _query(con: Any, sql: str, files: list[Path], kind: str) -> list[tuple]:
    """Run ``sql`` over ``files``; a file DuckDB cannot read is one line saying
    where it is malformed, never what it holds (a pull request's file is untrusted)."""
    import duckdb

    params = [[str(p) for p in f] if isinstance(f, list) else str(f) for f in files]
    flat = [p for f in files for p in (f if isinstance(f, list) else [f])]
    try:
        return con.execute(sql, params).fetchall()
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error as exc:
        text = str(exc)
        where = re.search(r"at byte \d+ in line \d+|line \d+", text)
        bad = next((f for f in flat if f'"{f}"' in text), flat[0])
        raise GlancError(
            f"{bad}: not a glanc {kind} file (malformed JSON"
            f"{', ' + where.group() if where else ''}): restore it from git or rebuild it"
        ) from None


LOCK_COLUMNS = "columns = {key: 'VARCHAR', stage: 'VARCHAR', output: 'JSON'}"


def rewritten_outputs(old: Files, new: Files) -> tuple[tuple[str, str], ...]:
    """(stage, key) of entries in both lock files whose output differs: the key
    covers every input of the call, so the same key with another output is a
    fact a reviewer must see (hand-edited, or regenerated with --force or on
    another machine)."""
    old, new = _files(old), _files(new)
    if not old or not new:
        return ()
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        rows = _query(
            con,
            f"""
            SELECT n.stage, n.key
            FROM read_json(?, format = 'newline_delimited', {LOCK_COLUMNS}) o
            JOIN read_json(?, format = 'newline_delimited', {LOCK_COLUMNS}) n ON o.key = n.key
            WHERE o.output::VARCHAR <> n.output::VARCHAR
            ORDER BY n.stage, n.key
            """,
            [old, new],
            "lock",
        )
    finally:
        con.close()
    return tuple((stage, key) for stage, key in rows)


def diff_datasets(
    old: Files,
    new: Files,
    *,
    samples: int = 3,
    old_label: str = "",
    new_label: str = "",
    old_lock: Files = None,
    new_lock: Files = None,
    old_dropped: Files = None,
    new_dropped: Files = None,
) -> Diff:
    """Rows added, removed and changed from ``old`` to ``new`` (build directories, or
    JSONL files: one, or a build's shards; None or a missing file is an empty
    dataset), grouped by
    taxonomy path, with up to ``samples`` example rows per kind and group; with
    both locks, the entries whose output changed without their input."""
    if isinstance(old, Path) and old.is_dir():  # a build directory: its rows, lock, drops
        old, old_lock, old_dropped = _kinds(old, old_lock, old_dropped)
    if isinstance(new, Path) and new.is_dir():
        new, new_lock, new_dropped = _kinds(new, new_lock, new_dropped)
    counts, picked, old_rows, new_rows = _compare(old, new, samples)
    groups = _groups(counts, picked)
    return Diff(
        old_label or _label(old),
        new_label or _label(new),
        old_rows,
        new_rows,
        sum(g.added for g in groups),
        sum(g.removed for g in groups),
        sum(g.changed for g in groups),
        groups,
        rewritten_outputs(old_lock, new_lock),
        dropped_changes(old_dropped, new_dropped),
    )


def _kinds(build_dir: Path, lock: Files, dropped: Files) -> tuple[list[Path], Files, Files]:
    from . import layout

    return (layout.files(build_dir, DATA),
            layout.files(build_dir, LOCKS) if lock is None else lock,
            layout.files(build_dir, DROPS) if dropped is None else dropped)  # fmt: skip


def _label(files: Files) -> str:
    listed = [files] if isinstance(files, Path) else list(files or ())
    if len(listed) == 1:
        return str(listed[0])
    return str(_common(listed)) if listed else "(none)"


def _common(paths: list[Path]) -> Path:
    """The build directory of a kind's shards (the folder above ``data/``)."""
    import os

    common = Path(os.path.commonpath([str(p) for p in paths]))
    while common.name and common.name not in ("data", "dropped", "lock"):
        common = common.parent
    return common.parent if common.name else Path(os.path.commonpath([str(p) for p in paths]))


def dropped_changes(old: Files, new: Files) -> tuple[tuple[str, int, int], ...]:
    """Per check, the rows the quality layer dropped on each side, where they differ."""
    a, b = _dropped_counts(old), _dropped_counts(new)
    return tuple(
        (c, a.get(c, 0), b.get(c, 0)) for c in sorted(set(a) | set(b)) if a.get(c, 0) != b.get(c, 0)
    )


def _dropped_counts(files: Files) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in _files(files):
        with path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    check = json.loads(line)["dropped"]["check"]
                except (ValueError, KeyError, TypeError):
                    check = "(unreadable line)"
                counts[check] = counts.get(check, 0) + 1
    return counts


def _compare(old: Files, new: Files, samples: int) -> tuple[list, list, int, int]:
    """Join the two datasets by row id in DuckDB: (per-path counts of added, removed
    and changed rows; up to ``samples`` example rows per path and kind; row counts)."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        _source(con, "o", old)
        _source(con, "n", new)
        con.execute(
            """
            CREATE TEMP TABLE d AS
            SELECT coalesce(n.id, o.id) AS id,
                   coalesce(n.path, o.path) AS path,
                   CASE WHEN o.id IS NULL THEN 'added'
                        WHEN n.id IS NULL THEN 'removed'
                        WHEN o.line::VARCHAR <> n.line::VARCHAR THEN 'changed'
                   END AS kind,
                   o.line AS old, n.line AS new
            FROM o FULL OUTER JOIN n ON o.id = n.id
            """
        )
        counts = con.execute(
            "SELECT path, count(*) FILTER (kind = 'added'), count(*) FILTER (kind = 'removed'), "
            "count(*) FILTER (kind = 'changed') FROM d WHERE kind IS NOT NULL "
            "GROUP BY path ORDER BY path"
        ).fetchall()
        picked = con.execute(
            """
            SELECT path, kind, id,
                   coalesce(new, old) ->> 'subject',
                   coalesce(new, old) -> 'messages' ->> '$[0].content',
                   coalesce(new, old) -> 'messages' ->> '$[1].content',
                   old -> 'messages' ->> '$[0].content',
                   old -> 'messages' ->> '$[1].content',
                   old, new
            FROM d WHERE kind IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY path, kind ORDER BY id) <= ?
            ORDER BY path, kind, id
            """,
            [samples],
        ).fetchall()
        old_rows = con.execute("SELECT count(*) FROM o").fetchone()[0]
        new_rows = con.execute("SELECT count(*) FROM n").fetchone()[0]
    finally:
        con.close()
    return counts, picked, old_rows, new_rows


def _groups(counts: list, picked: list) -> tuple[Group, ...]:
    by_path: dict[str, list[Sample]] = {}
    for path, kind, rid, subject, q, a, oq, oa, old_line, new_line in picked:
        extra: dict[str, Any] = {}
        if kind == "changed":
            extra = {
                "old_question": oq,
                "old_answer": oa,
                "fields": _changed_fields(json.loads(old_line), json.loads(new_line)),
            }
        by_path.setdefault(path, []).append(
            Sample(kind, rid, subject or "", q or "", a or "", **extra)
        )
    return tuple(
        Group(path, added, removed, changed, tuple(by_path.get(path, ())))
        for path, added, removed, changed in counts
    )


def _changed_fields(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    fields = []
    om, nm = old.get("messages") or [{}, {}], new.get("messages") or [{}, {}]
    if om[0].get("content") != nm[0].get("content"):
        fields.append("question")
    if om[-1].get("content") != nm[-1].get("content"):
        fields.append("answer")
    for key in sorted(set(old) | set(new)):
        if key not in ("messages", "keys", "id") and old.get(key) != new.get(key):
            fields.append(key)
    return tuple(fields)


def _short(text: str | None, n: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def render_text(diff: Diff) -> str:
    lines = [
        f"{diff.old} -> {diff.new}: {diff.old_rows} -> {diff.new_rows} rows; "
        f"+{diff.added} added, -{diff.removed} removed, ~{diff.changed} changed"
    ]
    for g in diff.groups:
        lines.append(f"  {g.path}: +{g.added} -{g.removed} ~{g.changed}")
        for s in g.samples:
            mark = {"added": "+", "removed": "-", "changed": "~"}[s.kind]
            what = f" ({', '.join(s.fields)})" if s.fields else ""
            lines.append(
                f"    {mark} {s.id} [{_short(s.subject, 60)}]{what} Q: {_short(s.question)}"
            )
            if s.kind == "changed" and "question" in s.fields:
                lines.append(f"        was Q: {_short(s.old_question)}")
            if s.kind == "changed" and "answer" in s.fields:
                lines.append(f"        was A: {_short(s.old_answer)}")
                lines.append(f"        now A: {_short(s.answer)}")
    if diff.rewritten:
        lines.append(
            f"  ! {len(diff.rewritten)} lock output(s) changed without their input "
            "(hand-edited, or regenerated with --force or on another machine):"
        )
        for stage, key in diff.rewritten[:20]:
            lines.append(f"    ! {stage:<9} {key[:16]}")
        if len(diff.rewritten) > 20:
            lines.append(f"    ... and {len(diff.rewritten) - 20} more")
    lines += _dropped_lines(diff, "  ")
    if diff.empty:
        lines.append("  no row changed")
    return "\n".join(lines)


def _dropped_lines(diff: Diff, indent: str) -> list[str]:
    if not diff.dropped:
        return []
    out = [f"{indent}dropped rows (dropped/), by check: old -> new"]
    out += [f"{indent}  {check}: {old} -> {new}" for check, old, new in diff.dropped]
    return out


def _md(text: str | None, n: int = 160) -> str:
    return _short(text, n).replace("|", "\\|").replace("<", "&lt;")


def render_markdown(diff: Diff) -> str:
    """Markdown that fits a pull-request comment: a summary table, samples folded."""
    lines = [
        f"### glanc diff: `{diff.old}` → `{diff.new}`",
        "",
        f"**{diff.old_rows:,} → {diff.new_rows:,} rows: +{diff.added:,} added, "
        f"−{diff.removed:,} removed, ~{diff.changed:,} changed**",
        "",
    ]
    if diff.rewritten:
        keys = ", ".join(f"`{stage}:{key[:16]}`" for stage, key in diff.rewritten[:10])
        more = f" and {len(diff.rewritten) - 10} more" if len(diff.rewritten) > 10 else ""
        lines += [
            f"> **Warning:** {len(diff.rewritten)} lock output(s) changed without their input "
            f"(hand-edited, or regenerated with --force or on another machine): {keys}{more}",
            "",
        ]
    if diff.dropped:
        lines += ["Rows the quality layer dropped (`dropped/`), by check:", ""]
        lines += [f"- {check}: {old:,} → {new:,}" for check, old, new in diff.dropped]
        lines.append("")
    if diff.empty:
        return "\n".join(lines + ["No row changed.", ""])
    lines += ["| taxonomy path | added | removed | changed |", "| --- | ---: | ---: | ---: |"]
    for g in diff.groups:
        lines.append(f"| {_md(g.path)} | {g.added:,} | {g.removed:,} | {g.changed:,} |")
    lines.append("")
    for g in diff.groups:
        if not g.samples:  # --samples 0: the table alone
            continue
        lines += [f"<details><summary>{_md(g.path)}: samples</summary>", ""]
        for s in g.samples:
            what = f" ({', '.join(s.fields)})" if s.fields else ""
            lines.append(f"- **{s.kind}**{what} `{s.id}` *{_md(s.subject, 60)}*")
            lines.append(f"  - Q: {_md(s.question)}")
            if s.kind == "changed" and "question" in s.fields:
                lines.append(f"  - was Q: {_md(s.old_question)}")
            lines.append(f"  - A: {_md(s.answer)}")
            if s.kind == "changed" and "answer" in s.fields:
                lines.append(f"  - was A: {_md(s.old_answer)}")
        lines += ["", "</details>", ""]
    return "\n".join(lines)


def diff_against(
    rev: str, build_dir: Path, scratch: Path, *, samples: int = 3, label: str | None = None
) -> Diff:
    """``build_dir`` against itself at git revision ``rev``, reading only the files
    that differ (git's index says which): a pull request that adds a discipline
    to a large build reads that discipline's files, not every row. Files that did
    not change count their lines to both sides, and their drops to both."""
    from . import git, layout

    label = label or build_dir.as_posix()
    changed = git.changed(rev, build_dir)
    scratch.mkdir(parents=True, exist_ok=True)
    git.tree(rev, build_dir, scratch, only=changed)
    same: dict[str, list[Path]] = {}
    differ: dict[str, tuple[list[Path], list[Path]]] = {}
    for kind in (DATA, LOCKS, DROPS):
        here = layout.files(build_dir, kind)
        then = layout.files(scratch, kind)
        unchanged = [p for p in here if p.relative_to(build_dir).as_posix() not in changed]
        same[kind] = unchanged
        differ[kind] = (then, [p for p in here if p not in unchanged])
    result = diff_datasets(  # the drops are counted below, with the unchanged files'
        differ[DATA][0], differ[DATA][1], samples=samples,
        old_label=f"{rev}:{label}", new_label=label,
        old_lock=differ[LOCKS][0], new_lock=differ[LOCKS][1],
    )  # fmt: skip
    rows = sum(_lines(p) for p in same[DATA])
    drops = _dropped_counts(same[DROPS])
    old_drops = _dropped_counts(differ[DROPS][0])
    new_drops = _dropped_counts(differ[DROPS][1])
    dropped = tuple(
        (c, old_drops.get(c, 0) + drops.get(c, 0), new_drops.get(c, 0) + drops.get(c, 0))
        for c in sorted(set(old_drops) | set(new_drops))
        if old_drops.get(c, 0) != new_drops.get(c, 0)
    )
    return replace(result, old_rows=result.old_rows + rows, new_rows=result.new_rows + rows,
                   dropped=dropped)  # fmt: skip


def _lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
    return count
