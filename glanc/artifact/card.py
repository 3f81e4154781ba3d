"""The dataset card: ``builds/<name>/README.md`` in the Hugging Face convention.

YAML front matter (``configs``/``data_files``, task categories, size category,
license, language) lets ``datasets.load_dataset`` and the Hub read the build
as it is; the body says what is in it and how to rebuild it. Everything in it
comes from the spec and the build, so the card is as reproducible as the data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..specs.shards import slug
from ..specs.types import Taxonomy

LANGUAGES = {
    "english": "en", "chinese": "zh", "french": "fr", "german": "de", "spanish": "es",
    "italian": "it", "portuguese": "pt", "russian": "ru", "japanese": "ja", "korean": "ko",
    "arabic": "ar", "hindi": "hi", "dutch": "nl", "polish": "pl", "turkish": "tr",
    "vietnamese": "vi", "indonesian": "id", "swedish": "sv", "czech": "cs", "greek": "el",
}  # fmt: skip

SIZES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
)


def spec_path(taxonomy: Taxonomy, builds: Path) -> str:
    """The spec's path as the card shows it: relative to the builds directory's
    parent (the repository root, usually), whatever the working directory. A
    spec read from standard input or a pipe is named as it was given."""
    if not taxonomy.path.is_file():
        return taxonomy.path.as_posix()
    return Path(os.path.relpath(taxonomy.path.resolve(), builds.resolve().parent)).as_posix()


def size_category(rows: int) -> str:
    for limit, name in SIZES:
        if rows < limit:
            return name
    return "n>1T" if rows >= 10**12 else "100M<n<1B"


def front_matter(taxonomy: Taxonomy, rows: int) -> dict[str, Any]:
    languages = sorted(
        {
            LANGUAGES[d.settings.language.casefold()]
            for d in taxonomy.disciplines
            if d.settings.language.casefold() in LANGUAGES
        }
    )
    meta: dict[str, Any] = {
        "pretty_name": taxonomy.name,
        "license": taxonomy.license or "unknown",
        "task_categories": ["question-answering", "text-generation"],
        "size_categories": [size_category(rows)],
        "tags": ["synthetic", "instruction-tuning", "glan", "glanc"],
    }
    if languages:
        meta["language"] = languages
    # every row, and a config per field (a top-level node with children): the
    # shards of one field sit in its folder under data/
    meta["configs"] = [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/**/*.jsonl"}]}
    ]
    fields = sorted({d.path[0] for d in taxonomy.disciplines if len(d.path) > 1})
    if len(fields) > 1:
        meta["configs"] += [
            {"config_name": slug(f), "data_files": [
                {"split": "train", "path": f"data/{slug(f)}/**/*.jsonl"}]}
            for f in fields
        ]  # fmt: skip
    return meta


def _cell(value: str | None) -> str:
    """A value as one markdown table cell: model text may hold pipes or newlines."""
    return " ".join(str(value or "").split()).replace("|", "\\|")


def _table(head: tuple[str, str], rows: list[tuple[str, int]]) -> list[str]:
    out = [f"| {head[0]} | {head[1]} |", "| --- | ---: |"]
    out += [f"| {_cell(value) or '(none)'} | {n:,} |" for value, n in rows]
    return out


def render(
    taxonomy: Taxonomy,
    manifest: dict[str, Any],
    counts: dict[str, list[tuple[str, int]]],
    decoding: dict[str, list[dict[str, Any]]],
    spec: str,
) -> str:
    """The card's text. ``counts`` maps field/discipline/level/difficulty to
    (value, rows); ``decoding`` lists the decoding settings each stage used."""
    rows = manifest["rows"]
    meta = yaml.safe_dump(front_matter(taxonomy, rows), sort_keys=False, allow_unicode=True)
    lines = ["---", meta.rstrip(), "---", "", f"# {taxonomy.name}", ""]
    if taxonomy.description:
        lines += [taxonomy.description, ""]
    stub = any("stub" in m for models in manifest["models"].values() for m in models)
    if stub:
        lines += ["**Made with glanc's stub model: placeholder text, not training data.**", ""]
    lines += [
        f"{rows:,} question-answer pairs generated with "
        f"glanc {manifest['glanc_version']} by the GLAN method "
        "(Li et al. 2024): a taxonomy of disciplines is expanded into subjects, syllabi, "
        f"homework questions and answers. Spec: `{spec}`, template `{manifest['template']}`.",
        "",
        "The rows are under `data/`, a file per discipline in a folder per field. Each "
        "line holds `messages` (the question as the user turn, the "
        "answer as the assistant turn), `taxonomy_path`, `discipline`, `subject`, `level`, "
        "`sessions`, `key_concepts`, `difficulty`, `models`, `stub` and the node `keys`.",
        "",
        "## Counts",
        "",
    ]
    for column, title in (("field", "field"), ("discipline", "discipline"),
                          ("level", "level"), ("difficulty", "difficulty")):  # fmt: skip
        lines += [f"### By {title}", "", *_table((title, "rows"), counts[column]), ""]
    lines += ["## Models and decoding", "", "| stage | model | decoding |", "| --- | --- | --- |"]
    for stage, models in manifest["models"].items():
        settings = "; ".join(
            ", ".join(f"{k}={v}" for k, v in sorted(d.items())) for d in decoding.get(stage, [])
        )
        lines.append(f"| {stage} | {', '.join(models)} | {settings} |")
    if "quality" in manifest:
        lines += _quality(manifest["quality"], rows)
    if "coverage" in manifest:
        lines += _coverage(manifest["coverage"])
    nodes = manifest["counts"]["nodes"]
    tokens = manifest["tokens"]
    lines += [
        "",
        "## Tokens",
        "",
        f"Model calls behind this dataset: {sum(nodes.values()):,} nodes "
        f"({', '.join(f'{s} {n:,}' for s, n in nodes.items())}); "
        f"tokens {tokens['in']:,} in / {tokens['out']:,} out.",
        "",
        "## Rebuild",
        "",
        "```console",
        f"glanc build {spec}        # reuses the lock (lock/): no model call",
        f"glanc check {spec}        # CI: the committed files are what spec and lock produce",
        "```",
        "",
    ]
    return "\n".join(lines)


def _dropped_sentence(n: int, redraws: int) -> str:
    if n == 0:
        return "no generated row was dropped."
    rows = "row was" if n == 1 else "rows were"
    return (
        f"{n:,} generated {rows} dropped (listed with their reasons under `dropped/`) "
        f"and {redraws:,} drawn again with a new homework sample and seed."
    )


CARD_DISCIPLINES = 30  # a card lists this many disciplines' coverage at most: the lowest


def _coverage(coverage: dict[str, Any]) -> list[str]:
    """The card's coverage section: the key concepts reached, each discipline's
    figures (the lowest, in a large build) and every node under a spec floor."""
    by = coverage["disciplines"]
    lines = [
        "",
        "## Coverage",
        "",
        f"The rows ask about {coverage['key_concepts']:.0%} of the key concepts their syllabi "
        "teach. Per discipline: that share, the share of challenging rows, and subject "
        "diversity (1 minus the largest word overlap of two subject names). Each "
        "discipline's share (`shares/`) has the figures per subject.",
        "",
    ]
    shown = sorted(by, key=lambda w: (by[w]["key_concepts"], w))[:CARD_DISCIPLINES]
    if len(by) > len(shown):
        lines += [f"The {len(shown)} disciplines with the lowest key-concept share:", ""]
    lines += ["| discipline | key concepts | challenging | subject diversity |",
              "| --- | --- | --- | --- |"]
    lines += [f"| {_cell(w)} | {by[w]['key_concepts']:.0%} | {by[w]['challenging']:.0%} | "
              f"{by[w]['diversity']:.2f} |" for w in sorted(shown)]  # fmt: skip
    if coverage["below"]:
        floors = ", ".join(f"{k} {v}" for k, v in coverage["floors"].items())
        lines += ["", f"{len(coverage['below'])} node(s) are under the spec's floors ({floors}):",
                  "", "| taxonomy path | subject | measure | value |", "| --- | --- | --- | --- |"]
        lines += [f"| {_cell(b['taxonomy_path'])} | {_cell(b['subject'] or '')} | {b['measure']} "
                  f"| {b['value']} |" for b in coverage["below"]]  # fmt: skip
    return lines


def _quality(quality: dict[str, Any], rows: int) -> list[str]:
    """The card's quality section: what the gate dropped and why, how many rows
    passed at their first draw, and where a quota is still short."""
    first = quality["first_draw"]
    share = f" ({first['passed'] / first['rows']:.0%})" if first["rows"] else ""
    dropped = quality["dropped"]
    lines = [
        "",
        "## Quality",
        "",
        "Every row passed glanc's quality checks; "
        f"{_dropped_sentence(sum(dropped.values()), quality['redraws'])} "
        f"{first['passed']:,} of {first['rows']:,} rows{share} passed every check at their "
        "first draw.",
    ]
    if dropped:
        lines += ["", *_table(("check", "rows dropped"), sorted(dropped.items()))]
    vetoed = quality.get("vetoed") or {}
    if vetoed:
        lines += [
            "",
            f"The stage checks left out {sum(vetoed.values()):,} subject(s) or syllabus draw(s) "
            "before any question was written on them; a dropped syllabus is drawn again. "
            "Each discipline's share (`shares/`) lists them with their reasons.",
            "",
            *_table(("check", "left out"), sorted(vetoed.items())),
        ]
    short = quality["short"]
    if short:
        lines += [
            "",
            f"{len(short)} row(s) are missing: every draw was dropped.",
            "",
            "| taxonomy path | subject | last check | reason |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {_cell(s['taxonomy_path'])} | {_cell(s['subject'])} | {s['check']} | "
            f"{_cell(s['reason'])} |"
            for s in short
        ]
    return lines
