"""``glanc report``: one static HTML page about a build, to look at rather than read.

Plots are drawn by matplotlib as inline SVG (no JavaScript, no server, nothing
fetched: the file opens offline in any browser), and every plot's numbers are
embedded beside it as JSON (``<script type="application/json" id="report-data">``)
so tools and tests can read what the pictures show.
"""

from __future__ import annotations

import html
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import GlancError
from ..options import DATA, DROPS, MANIFEST, SHARES
from . import layout, shares
from .manifest import is_stub, model_labels


def _lines(paths: list[Path]) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        with path.open(encoding="utf-8") as f:
            out += [json.loads(line) for line in f if line.strip()]
    return out


def _words(text: str) -> int:
    return len(text.split())


def stub_rows(manifest: dict[str, Any]) -> bool:
    """Whether a build's rows came from the stub model (placeholders, not data)."""
    return any(is_stub(m) for m in model_labels(manifest))


def report_data(build_dir: Path) -> dict[str, Any]:
    """Everything the page plots, from the build's own files."""
    if not layout.files(build_dir, DATA):
        raise GlancError(f"{build_dir}: no dataset; run glanc build first")
    rows = _lines(layout.files(build_dir, DATA))
    dropped = _lines(layout.files(build_dir, DROPS))
    manifest = json.loads((build_dir / MANIFEST).read_text(encoding="utf-8"))
    per_subject = Counter((r["discipline"], r["subject"]) for r in rows)
    quota = (manifest.get("quality") or {}).get("quota") or {}
    checks = Counter(d["dropped"]["check"] for d in dropped)
    by_id = {r["id"]: r for r in rows}
    clusters = []
    for d in dropped:
        if d["dropped"]["check"] == "near_duplicate":
            kept = by_id.get((d["dropped"].get("detail") or {}).get("kept", ""))
            clusters.append(
                {
                    "kept": kept["messages"][0]["content"] if kept else "(redrawn since)",
                    "dropped": d["messages"][0]["content"],
                    "reason": d["dropped"]["reason"],
                }
            )
    contaminated = [
        {
            "question": d["messages"][0]["content"],
            "benchmark": d["dropped"]["match"]["benchmark"],
            "item": d["dropped"]["match"]["item"],
            "match": d["dropped"]["match"]["text"],
        }
        for d in dropped
        if d["dropped"]["check"] == "contamination" and "match" in d["dropped"]
    ]
    vetoed, coverage = [], []
    folder = build_dir / SHARES
    for path in sorted(folder.rglob("*.json")) if folder.is_dir() else ():
        share = shares.read(build_dir, path.relative_to(folder).with_suffix("").as_posix())
        if share is None:  # not one glanc wrote: nothing of it is shown
            continue
        vetoed += (share.quality or {}).get("vetoed") or []
        for subject, v in ((share.coverage or {}).get("subjects") or {}).items():
            coverage.append({"discipline": "/".join(share.discipline), "subject": subject, **v})
    return {
        "name": manifest["taxonomy"],
        "vetoed": vetoed,
        "coverage": coverage,
        "rows": len(rows),
        "rows_per_subject": [
            {"discipline": d, "subject": s, "rows": n, "quota": quota.get(d)}
            for (d, s), n in sorted(per_subject.items())
        ],
        "drop_reasons": dict(sorted(checks.items())),
        "question_words": [_words(r["messages"][0]["content"]) for r in rows],
        "answer_words": [_words(r["messages"][-1]["content"]) for r in rows],
        "levels": dict(sorted(Counter(r["level"] for r in rows).items())),
        "difficulty": dict(sorted(Counter(r["difficulty"] for r in rows).items())),
        "near_duplicates": clusters,
        "contaminated": contaminated,
        "quality": manifest.get("quality"),
        "stub": stub_rows(manifest),
    }


def _svg(draw) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "glanc"  # the same data draws the same bytes
    fig, ax = plt.subplots(figsize=(7, 3.2))
    draw(ax)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _bars(ax, labels: list[str], values: list[int], title: str, color: str = "#4c72b0") -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rows come whole
    ax.barh(range(len(values)), values, color=color)
    ax.set_yticks(range(len(values)), [label[:48] for label in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)


def _plots(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id, title, svg) for each plot."""
    subjects = data["rows_per_subject"]
    out = []

    def per_subject(ax):
        labels = [f"{s['discipline']} / {s['subject']}" for s in subjects]
        _bars(ax, labels, [s["rows"] for s in subjects], "rows per subject (line: quota)")
        for i, s in enumerate(subjects):
            if s["quota"]:
                ax.plot([s["quota"], s["quota"]], [i - 0.4, i + 0.4], color="#c44e52")

    out.append(("rows_per_subject", "Rows per discipline and subject", _svg(per_subject)))
    reasons = data["drop_reasons"]

    def drops(ax):
        if reasons:
            _bars(ax, list(reasons), list(reasons.values()), "rows dropped", "#dd8452")
        else:  # an empty chart reads as a broken one
            ax.text(0.5, 0.5, "no row was dropped", ha="center", va="center", fontsize=12)
            ax.set_axis_off()

    out.append(("drop_reasons", "Why rows were dropped", _svg(drops)))

    def lengths(ax):
        ax.hist([data["question_words"], data["answer_words"]], bins=20,
                label=["question", "answer"], color=["#4c72b0", "#55a868"])  # fmt: skip
        ax.set_xlabel("words")
        ax.legend(fontsize=8)
        ax.set_title("question and answer lengths", fontsize=10)

    out.append(("lengths", "Question and answer lengths", _svg(lengths)))
    mix = {**{f"level: {k}": v for k, v in data["levels"].items()},
           **{f"difficulty: {k}": v for k, v in data["difficulty"].items()}}  # fmt: skip
    out.append(
        ("mix", "Level and difficulty mix",
         _svg(lambda ax: _bars(ax, list(mix), list(mix.values()), "rows", "#8172b3")))
    )  # fmt: skip
    return out


def _table(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    if not rows:
        return "<p class=none>none</p>"
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{cells}</tr>{body}</table>"


def render(data: dict[str, Any]) -> str:
    """The page: a summary, the plots, near-duplicate clusters, contaminated items."""
    quality = data["quality"] or {}
    first = quality.get("first_draw") or {}
    summary = f"{data['rows']:,} rows"
    if first.get("rows"):
        summary += (
            f"; {first['passed']:,} of {first['rows']:,} passed every check at their first draw"
        )
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>glanc report: {html.escape(data['name'])}</title>",
        "<style>body{font:14px/1.4 system-ui,sans-serif;max-width:60em;margin:2em auto;"
        "padding:0 1em;color:#222}figure{margin:1.5em 0}svg{max-width:100%;height:auto}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
        "padding:.3em .5em;vertical-align:top;text-align:left}.none{color:#777}</style>",
        "</head><body>",
        f"<h1>{html.escape(data['name'])}</h1><p>{html.escape(summary)}</p>",
    ]
    if data.get("stub"):
        parts.append("<p><strong>Made with glanc's stub model: placeholder rows, not training "
                     "data.</strong></p>")  # fmt: skip
    for plot_id, title, svg in _plots(data):
        parts.append(f"<figure id={plot_id}><figcaption>{html.escape(title)}</figcaption>")
        parts.append(svg + "</figure>")
    parts.append("<h2>Subjects and syllabi left out</h2>")
    parts.append(
        _table(
            ("taxonomy path", "stage", "subject", "check", "reason"),
            [(v["taxonomy_path"], v["stage"], v["subject"], v["check"], v["reason"])
             for v in data.get("vetoed") or ()],
        )
    )
    parts.append("<h2>Coverage per subject</h2>")
    parts.append(
        _table(
            ("discipline", "subject", "rows", "key concepts reached", "of"),
            [(c["discipline"], c["subject"], c["rows"], c["reached"], c["key_concepts"])
             for c in data.get("coverage") or ()],
        )
    )
    parts.append("<h2>Near-duplicate questions</h2>")
    parts.append(
        _table(
            ("kept", "dropped", "why"),
            [(c["kept"], c["dropped"], c["reason"]) for c in data["near_duplicates"]],
        )
    )
    parts.append("<h2>Contaminated questions</h2>")
    parts.append(
        _table(
            ("question", "benchmark", "item", "benchmark text"),
            [(c["question"], c["benchmark"], c["item"], c["match"]) for c in data["contaminated"]],
        )
    )
    payload = json.dumps(data, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    parts.append(f'<script type="application/json" id="report-data">{payload}</script>')
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(build_dir: Path, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    text = render(report_data(build_dir))
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    return output
