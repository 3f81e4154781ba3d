"""``glanc suggest``: a model drafts taxonomy nodes; people review them in the spec."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..options import MAX_SUGGEST_SAMPLES as MAX_SAMPLES
from .flags import model_option, store_option, user_errors, wait_option, waiter


@click.command()
@click.argument("spec", required=False, type=click.Path(path_type=Path))
@click.option("--under", metavar="PATH", help="The node to add children to: 'Field/Sub-field'.")
@click.option("-n", "count", type=click.IntRange(1, 100), default=3, show_default=True,
              help="How many new nodes to add.")  # fmt: skip
@click.option("--new", "new_name", metavar="NAME",
              help="Draft a whole taxonomy named NAME from scratch (with -o FILE).")  # fmt: skip
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Where --new writes.")
@click.option("--fields", type=click.IntRange(1, 100), default=3, show_default=True,
              help="--new: fields of human knowledge.")  # fmt: skip
@click.option("--subfields", type=click.IntRange(1, 100), default=2, show_default=True,
              help="--new: sub-fields per field.")  # fmt: skip
@click.option("--disciplines", type=click.IntRange(1, 100), default=3, show_default=True,
              help="--new: disciplines per sub-field.")  # fmt: skip
@click.option("--samples", type=click.IntRange(1, MAX_SAMPLES), default=3, show_default=True,
              help="Model calls per node asked; their names are merged.")  # fmt: skip
@model_option("Ask this model instead of the spec's generator (e.g. stub).")
@click.option("--json", "as_json", is_flag=True, help="Print what was proposed as JSON.")
@store_option
@wait_option
@user_errors
def suggest(
    spec: Path | None,
    under: str | None,
    count: int,
    new_name: str | None,
    output: Path | None,
    fields: int,
    subfields: int,
    disciplines: int,
    samples: int,
    model: str | None,
    as_json: bool,
    store: Path,
    wait: bool,
) -> None:
    """Ask a model for new taxonomy nodes and write them into a spec, pending review.

    With SPEC and --under PATH: N child nodes of the node at PATH (its sub-fields,
    or its disciplines when its children are leaves), from several samples
    merged and de-duplicated against each other and the spec. Each is written
    under PATH with `review: pending` and its provenance (model, sample, node
    key); the file keeps its comments and layout. Builds leave pending nodes out
    until a reviewer sets `review: keep` (or deletes the key) or `review: drop`.
    The calls are cached: a rerun calls no model and proposes the same names.

    With --new NAME -o FILE: a whole draft taxonomy, GLAN style (fields of all
    human knowledge, then sub-fields, then disciplines), every node pending.

    Exit 2, with the spec untouched, on a PATH that does not exist, a leaf
    discipline, replies with no list of names, or no new name at all.

    \b
    Example:
        glanc suggest taxonomies/science.yaml --under "Natural Sciences" -n 3
        glanc plan taxonomies/science.yaml       # what keeping them would add
        glanc suggest --new everything -o taxonomies/everything.yaml --model stub
    """
    from ..options import Workspace
    from ..tasks.suggest import draft
    from ..tasks.suggest import suggest as propose

    workspace = Workspace(store=store, wait=waiter(wait))
    if new_name is not None:
        if spec is not None or under is not None or output is None:
            raise click.UsageError("--new NAME takes -o FILE, and no SPEC or --under")
        counts = (fields, subfields, disciplines)
        result = draft(new_name, output, counts, model=model, samples=samples,
                       workspace=workspace)  # fmt: skip
        where = output
    else:
        if spec is None or under is None:
            raise click.UsageError("give SPEC and --under PATH (or --new NAME -o FILE)")
        result = propose(spec, under, count, model=model, samples=samples, workspace=workspace)
        where = spec
    for name, why in result.skipped:
        click.echo(f"skipped {name!r}: {why}", err=True)
    if result.already:
        click.echo(f"already suggested, pending review: {', '.join(result.already)}", err=True)
    calls = f"{result.calls} model call(s), {result.cached} from the store"
    if new_name is not None:
        click.echo(f"wrote a draft taxonomy to {where}, every node pending review ({calls})",
                   err=True)  # fmt: skip
    elif result.added:
        names = ", ".join(n.name for n in result.added)
        fewer = (f"; {count} were asked for, the replies held no more new names"
                 if len(result.added) < count else "")  # fmt: skip
        click.echo(f"added {len(result.added)} {result.kind} under {result.under}, pending "
                   f"review: {names} ({calls}){fewer}", err=True)  # fmt: skip
    else:
        click.echo(f"nothing new under {result.under} ({calls})", err=True)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
    sys.exit(0)


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.argument("node_path", metavar="PATH")
@click.option("--keep", "state", flag_value="keep", help="Keep the node at PATH.")
@click.option("--drop", "state", flag_value="drop", help="Drop the node at PATH (and its subtree).")
@click.option("--keep-all", "state", flag_value="keep-all",
              help="Keep the node at PATH and every node under it pending review.")  # fmt: skip
@user_errors
def review(spec: Path, node_path: str, state: str | None) -> None:
    """Record a review decision on taxonomy nodes that glanc suggest added.

    PATH names a node from the top, 'Field/Sub-field/Discipline'. --keep and
    --drop set its `review:`; --keep-all keeps it and every node under it that
    is pending, in one step (nodes dropped before stay dropped). The spec keeps
    its comments and layout; an edit that would not validate leaves it as it was.

    \b
    Example:
        glanc validate --strict taxonomies/everything.yaml   # every pending node
        glanc review taxonomies/everything.yaml "Natural Sciences" --keep-all
        glanc review taxonomies/science.yaml "Natural Sciences/Alchemy" --drop
    """
    from ..specs.edit import set_review

    if state is None:
        raise click.UsageError("give --keep, --drop or --keep-all")
    at = tuple(part for part in node_path.split("/") if part)
    changed = set_review(spec, at, "keep" if state == "keep-all" else state,
                         subtree=state == "keep-all")  # fmt: skip
    verb = "dropped" if state == "drop" else "kept"
    if changed:
        click.echo(f"{verb} {len(changed)} node(s) in {spec}: {', '.join(changed)}", err=True)
    else:
        click.echo(f"nothing to change: {node_path} is already {state.replace('-all', '')}",
                   err=True)  # fmt: skip
