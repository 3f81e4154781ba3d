"""The commands that review an artifact: check it against its spec and lock,
diff two builds, export a dataset for training tools."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .. import trust
from ..artifact import layout, publish
from ..errors import GlancError
from ..options import DATA, DEFAULT_CHECK_CACHE, DEFAULT_STORE, DROPS, LOCK, LOCKS
from ..version import __version__
from .flags import model_option, out_option, store_option, user_errors


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@out_option("Builds directory holding <name>/.")
@model_option("Check a build made with build --model.")
@click.option(
    "--store",
    type=click.Path(path_type=Path),
    default=DEFAULT_STORE,
    show_default=True,
    help="Only read, to report lock outputs that differ from it; never used to rebuild.",
)
@click.option("--base", metavar="REV",
              help="A revision CI checked (the branch a pull request targets): a build none "
              "of whose files and inputs differ from it is up to date without a rebuild.")
@click.option("--cache", type=click.Path(path_type=Path), default=DEFAULT_CHECK_CACHE,
              show_default=True,
              help="With --base: keep what the check works out about unchanged files (their "
              "near-duplicate bands, by their bytes) here for the next check; CI caches it.")
@user_errors
def check(
    spec: Path, out: Path, model: str | None, store: Path, base: str | None, cache: Path
) -> None:
    """Verify that OUT/<name>/ is exactly what the spec and its lock produce.

    No model call, no network, and the local store is not used to rebuild
    (only read, to note lock outputs that differ from it). Exits 0 when every
    file matches (manifest.json, README.md, and the shards under data/, lock/
    and dropped/), the glanc version they record aside; 1 with a list
    of nodes the spec needs that the lock lacks (run glanc build) and of
    files and rows that are stale; 2 on bad input. Meant for CI.

    With --base REV (CI: the branch the pull request targets), a build whose
    files, spec, template, benchmark files and glanc version are those of REV
    is up to date at once; otherwise only the disciplines whose inputs or files
    changed since REV are rebuilt, the others taken as REV has them, and every
    file is compared all the same (a hand-edited shard of an unchanged
    discipline is stale, by name).

    \b
    Example:
        glanc check taxonomies/science.yaml
        glanc check taxonomies/science.yaml --base origin/main
    """
    from ..artifact.diff import render_text
    from ..specs.resolve import load_taxonomy
    from ..tasks.check import check as run_check

    taxonomy = load_taxonomy(spec)
    publish.recover(out)
    result = run_check(taxonomy, out, model=model, store=store, base=base, cache=cache)
    where = result.build_dir
    if result.unchanged_since is not None:
        click.echo(f"{where}: up to date with {spec} (nothing it depends on differs from "
                   f"{base}, where it was checked; nothing rebuilt)")  # fmt: skip
        return
    if result.rewritten:
        click.echo(
            f"note: {len(result.rewritten)} lock output(s) differ from what {store} holds for the "
            "same key (output changed without its input: hand-edited, or regenerated with "
            "--force or on another machine); glanc diff shows the rows",
            err=True,
        )
        for stage, key in result.rewritten[:10]:
            click.echo(f"  {stage:<9} {key[:16]}", err=True)
    if result.ok:
        carried = ""
        if result.carried:
            carried = (f" ({result.carried} discipline(s) unchanged since {base} taken as "
                       "checked there, the others rebuilt from the lock)")  # fmt: skip
        click.echo(f"{where}: up to date with {spec}{carried}")
        return
    click.echo(f"{where}: out of date with {spec}", err=True)
    if result.legacy:
        click.echo(
            f"layout: {where} is in the single-file layout of glanc before 0.2 (dataset.jsonl, "
            f"lock.jsonl); run: glanc build {spec} to rewrite it in the sharded one (no model "
            "call), and commit the result",
            err=True,
        )
        sys.exit(1)
    if result.missing:
        click.echo(
            f"missing: {len(result.missing)} node(s) the spec needs are not in the lock "
            f"(and whatever lies below them); run: glanc build {spec}",
            err=True,
        )
        for m in result.missing[:20]:
            click.echo(f"  {m.stage:<9} {m.path} #{m.index}", err=True)
        if len(result.missing) > 20:
            click.echo(f"  ... and {len(result.missing) - 20} more", err=True)
    if result.other_version:
        click.echo(
            f"note: these files record glanc {result.built_by}; glanc {__version__} writes "
            f"different bytes for {_listed(result.stale)} from the same spec and lock: "
            "rebuild with this glanc, or check with the one that built them",
            err=True,
        )
    for name in result.stale[:20]:
        click.echo(f"stale: {where / name} differs from what the spec and lock produce", err=True)
    if result.carried and result.stale:
        click.echo(f"note: {result.carried} discipline(s) whose inputs did not change since "
                   f"{base} were taken as checked there: a file of theirs that is stale differs "
                   f"from {base} though nothing it depends on changed (edited by hand?)",
                   err=True)  # fmt: skip
    if len(result.stale) > 20:
        click.echo(f"stale: ... and {len(result.stale) - 20} more file(s)", err=True)
    if result.rows is not None and not result.rows.empty:
        click.echo(render_text(result.rows), err=True)
    sys.exit(1)


def _listed(names: tuple[str, ...], most: int = 5) -> str:
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


@click.command()
@click.argument("paths", nargs=-1, type=str)
@click.option("--base", metavar="REV", help="Compare each build with itself at this git revision.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="markdown fits a pull-request comment.",
)
@click.option(
    "--samples",
    type=click.IntRange(0, 100),
    default=3,
    show_default=True,
    help="Example rows per kind of change and taxonomy path.",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when the datasets differ.")
@out_option("Builds directory, for --base without paths.")
@user_errors
def diff(
    paths: tuple[str, ...], base: str | None, fmt: str, samples: int, exit_code: bool, out: Path
) -> None:
    """Show rows added, removed and changed between two builds, by taxonomy path.

    OLD and NEW are build directories, dataset files, or REV:DIR for a build
    at a git revision. With --base REV, each given build directory (default:
    every build under OUT) is compared with itself at REV.

    \b
    Example:
        glanc diff old-builds/science builds/science
        glanc diff HEAD~1:builds/science builds/science
        glanc diff --base origin/main --format markdown
    """
    import tempfile

    from ..artifact import git
    from ..artifact.diff import diff_against, diff_datasets, render_markdown, render_text

    for builds in {out, *(Path(p).parent for p in paths if Path(p).is_dir())}:
        publish.recover(builds)
    with tempfile.TemporaryDirectory(prefix="glanc-diff-") as tmp:
        if base:
            dirs = [Path(p) for p in paths] or sorted(
                {p.parent for p in out.glob("*/manifest.json")}
                | {p.parent for p in out.glob("*/dataset.jsonl")}
                | git.builds_at(base, out)
            )
            diffs = []
            for i, d in enumerate(dirs):
                trust.refuse_links(d)
                diffs.append(diff_against(base, d, Path(tmp) / f"old{i}", samples=samples,
                                          label=str(d)))  # fmt: skip
        else:
            if len(paths) != 2:
                raise GlancError("diff needs OLD and NEW, or --base REV: see glanc diff --help")
            old, new = (_source(p, Path(tmp) / f"side{i}") for i, p in enumerate(paths))
            diffs = [diff_datasets(old[1], new[1], samples=samples, old_label=old[0],
                                   new_label=new[0], old_lock=old[2], new_lock=new[2],
                                   old_dropped=old[3], new_dropped=new[3])]  # fmt: skip
    if fmt == "json":
        click.echo(
            json.dumps([d.as_json() for d in diffs] if base else diffs[0].as_json(), indent=2)
        )
    else:
        render = render_markdown if fmt == "markdown" else render_text
        click.echo("\n".join(render(d) for d in diffs))
    if exit_code and any(not d.empty for d in diffs):
        sys.exit(1)


# a diff side: its label, its dataset, lock and dropped-rows files
Side = tuple[str, list[Path], list[Path], list[Path]]


def _sides(label: str, build_dir: Path) -> Side:
    """A build directory's files, in either layout."""
    return (label, *(layout.files(build_dir, kind) for kind in (DATA, LOCKS, DROPS)))


def _from_git(rev: str, build_dir: Path, dest: Path) -> Side:
    from ..artifact import git

    dest.mkdir()
    git.tree(rev, build_dir, dest)
    return _sides(f"{rev}:{build_dir.as_posix()}", dest)


def _source(arg: str, dest: Path) -> Side:
    """A diff side: a build directory, a dataset file, or REV:DIR."""
    path = Path(arg)
    if path.is_dir():
        trust.refuse_links(path)
        return _sides(arg, path)
    if path.is_symlink():
        trust.refuse_links(path, depth=0)
    if path.is_file():
        trust.refuse_links(path.parent)
        lock = path.parent / LOCK
        return (arg, [path], [lock] if lock.is_file() else [], [])
    if ":" in arg:
        rev, _, rest = arg.partition(":")
        rest_path = Path(rest or ".")
        if rest_path.suffix == ".jsonl":
            from ..artifact import git

            dest.mkdir()
            found = git.show(rev, rest_path, dest / rest_path.name)
            return (arg, [dest / rest_path.name] if found else [], [], [])
        return _from_git(rev, rest_path, dest)
    raise GlancError(f"{arg}: no such build directory or dataset file (or REV:DIR)")


@click.command()
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "parquet", "chat"]),
    default="chat",
    show_default=True,
    help='chat: {"messages": [...]} per line, as fine-tuning tools read it.',
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="File to write (default: stdout; parquet needs a file).",
)
@click.option("--force", is_flag=True, help="Overwrite --output if it exists.")
@click.option("--path", "taxonomy_path", metavar="PATH",
              help="Only rows under this taxonomy path ('Field' or 'Field/Discipline').")
@click.option("--level", help="Only rows of this level.")
@click.option("--difficulty", help="Only rows of this difficulty (basic, challenging).")
@click.option("--test-share", type=float, metavar="SHARE",
              help="Write OUTPUT's .train and .test files, each row by a stable hash of its id "
              "(e.g. 0.05).")
@out_option("Builds directory holding NAME/.")
@user_errors
def export(name: str, fmt: str, output: Path | None, force: bool, taxonomy_path: str | None,
           level: str | None, difficulty: str | None, test_share: float | None,
           out: Path) -> None:  # fmt: skip
    """Export build NAME's dataset as chat JSONL, full JSONL or Parquet.

    NAME is a build name under OUT or a build directory.

    \b
    Example:
        glanc export science --format parquet -o science.parquet
        glanc export science > science.chat.jsonl
        glanc export science --path "Natural Sciences/Physics" --level intermediate
        glanc export science -o science.jsonl --test-share 0.05   # science.train/.test.jsonl
    """
    from ..artifact.export import Filters, split_path
    from ..artifact.export import export as run_export

    build_dir = Path(name) if Path(name).is_dir() else out / name
    publish.recover(build_dir.parent)
    trust.refuse_links(build_dir)
    targets = [output] if test_share is None or output is None else [
        split_path(output, "train"), split_path(output, "test")]  # fmt: skip
    for target in targets:
        if target is not None and (target.exists() or target.is_symlink()) and not force:
            raise GlancError(f"{target}: exists; pass --force to overwrite it, or choose "
                             "another -o")  # fmt: skip
    _warn_stub(build_dir)
    filters = Filters(taxonomy_path, level, difficulty)
    written = run_export(layout.files(build_dir, DATA), fmt, output, filters, test_share)
    if written is not None:
        click.echo(f"wrote {', '.join(str(t) for t in targets)}", err=True)


@click.command()
@click.argument("name")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="HTML file to write (default: .glanc/reports/NAME.html).",
)
@out_option("Builds directory holding NAME/.")
@user_errors
def report(name: str, output: Path | None, out: Path) -> None:
    """Write one static HTML page about build NAME: plots and tables to look at.

    Rows per discipline and subject against their quota, why rows were
    dropped, question and answer lengths, the level and difficulty mix,
    near-duplicate questions and contaminated ones with their benchmark match.
    The page opens offline (inline SVG, no script, no server); its data is
    embedded as JSON (id report-data).

    \b
    Example:
        glanc report science
        glanc report builds/science -o science.html
    """
    from ..artifact.report import write_report

    build_dir = Path(name) if Path(name).is_dir() else out / name
    publish.recover(build_dir.parent)
    trust.refuse_links(build_dir)
    _warn_stub(build_dir)
    target = output or Path(".glanc") / "reports" / f"{build_dir.name}.html"
    click.echo(f"wrote {write_report(build_dir, target)}", err=True)


def _warn_stub(build_dir: Path) -> None:
    from ..artifact.manifest import read
    from ..artifact.report import stub_rows

    manifest = read(build_dir)
    if manifest is not None and stub_rows(manifest):
        click.echo(f"note: {build_dir}'s rows come from the stub model: placeholders, not "
                   "training data", err=True)  # fmt: skip


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.argument("ident", metavar="ID")
@store_option
@out_option("Builds directory holding <name>/ (its rows and lock).")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON on stdout.")
@user_errors
def show(spec: Path, ident: str, store: Path, out: Path, as_json: bool) -> None:
    """Show a row or a node whole: prompt, output, raw reply, tokens, lineage.

    ID is a row id (from data/ or dropped/) or a node key, or the
    first 6 or more hex digits of one, as glanc diff and glanc check print them.
    A row shows its question, answer and place, then the nodes its question and
    answer came from; a node shows its stage, model, tokens, attempts, output,
    raw reply and error, and the prompt its call sent (rendered from its stored
    inputs; a node that came from a lock has none stored). Reads only.

    \b
    Example:
        glanc show taxonomies/science.yaml 0c8ba76ee6f9d6fa
        glanc show taxonomies/science.yaml ee6745c46683 --json
    """
    from ..options import Workspace
    from ..specs.resolve import load_taxonomy
    from ..tasks.show import show as run_show
    from .render import shown_text

    taxonomy = load_taxonomy(spec)
    publish.recover(out)
    shown = run_show(taxonomy, ident, Workspace(store=store, builds=out))
    if as_json:
        click.echo(json.dumps(shown.as_json(), indent=2, ensure_ascii=False, default=str))
    else:
        click.echo("\n".join(shown_text(shown)))
