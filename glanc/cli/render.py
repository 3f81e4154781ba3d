"""Human-readable renderings of library results, for the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..plan.planner import PendingReview, Plan, Redraws
from ..store.batches import Wave

if TYPE_CHECKING:
    from ..tasks.build import BuildResult


def _n(value: int, estimated: bool = False) -> str:
    if not value:
        return "-"
    return f"~{value:,}" if estimated else f"{value:,}"


def _redraws(r: Redraws) -> str:
    per = f"{r.calls_per_redraw} calls each, up to {r.bound} per row"
    if r.expected_calls is None:
        return f"quality redraws: not counted above ({per}; no earlier build to estimate from)"
    if not r.expected_calls:
        return f"quality redraws: none expected (the last build redrew no row; {per})"
    return (
        f"quality redraws: not counted above; ~{r.expected_calls:,} more calls at the last "
        f"build's rate ({r.rate:.0%} of first draws redrawn; {per})"
    )


def _pending(p: PendingReview) -> list[str]:
    nodes = f"{len(p.paths)} node{'s' if len(p.paths) != 1 else ''}"
    holds = f"{p.disciplines} discipline{'s' if p.disciplines != 1 else ''}"
    head = f"pending review: {nodes} left out ({holds}): {', '.join(p.paths)}"
    if p.problem is not None:
        return ["", head, f"  keeping them would not validate: {p.problem}"]
    if p.cost is not None:
        price = f", ~${p.cost:,.2f}"
    elif p.tokens_in is not None:
        price = ", cost unknown (give the models a price, or --price IN,OUT)"
    else:
        price = ", tokens and cost unknown (no finished nodes of these stages in the store)"
    tokens = (
        "" if p.tokens_in is None else f", ~{p.tokens_in:,.0f} tokens in / ~{p.tokens_out:,.0f} out"
    )
    them = "it" if len(p.paths) == 1 else "them"
    return ["", head, f"  keeping {them} would add ~{p.calls:,} model calls{tokens}{price}"]


def plan_text(plan: Plan, *, limit: int | None = 20) -> str:
    """The plan as a table per stage, the totals, then the known nodes that will run."""
    lines = [
        f"{'stage':<10}{'cached':>9}{'run':>9}{'estimated':>11}{'skipped':>9}  reasons",
    ]
    for name, s in plan.stages:
        reasons = ", ".join(f"{r} {n:,}" for r, n in s.reasons)
        lines.append(
            f"{name:<10}{_n(s.cached):>9}{_n(s.run):>9}{_n(s.estimated, True):>11}"
            f"{_n(s.skipped):>9}  {reasons}"
        )
    data = plan.as_json()
    known = sum(s.run for _, s in plan.stages)
    later = sum(s.estimated for _, s in plan.stages)
    lines.append("")
    if plan.carried:
        lines.append(f"carried over: {plan.carried:,} unchanged discipline(s), their files "
                     "and counts as the last build wrote them")  # fmt: skip
    if not plan.lm_calls:
        lines.append("nothing to run: every selected node is cached")
    else:
        approx = "~" if later else ""
        lines.append(
            f"model calls: {approx}{plan.lm_calls:,} ({known:,} known now"
            + (f", ~{later:,} estimated from the spec's counts" if later else "")
            + "; retries not counted)"
        )
        tokens = data["tokens"]
        if tokens["in"] is None:
            lines.append("tokens: unknown (no finished nodes of these stages in the store yet)")
        else:
            lines.append(
                f"tokens: ~{tokens['in']:,} in / ~{tokens['out']:,} out "
                "(averages of this store's finished nodes)"
            )
        if data["cost"] is not None:
            lines.append(f"cost: ~${data['cost']:,.2f}")
        elif tokens["in"] is not None:
            lines.append("cost: unknown (give the models a price to see it)")
    if plan.redraws is not None and plan.redraws.rows_to_run:
        lines.append(_redraws(plan.redraws))
    if plan.pending is not None:
        lines += _pending(plan.pending)
    if plan.batches:
        lines += waves_text(plan.batches)
        if plan.in_batches:
            lines.append(f"  {plan.in_batches:,} of the calls to run are in these batches "
                         "already: a build takes them back, sending nothing again")  # fmt: skip
    if plan.nodes:
        lines.append("")
        lines.append("will run:")
        shown = plan.nodes if limit is None else plan.nodes[:limit]
        for node in shown:
            lines.append(
                f"  {node.stage:<9} {node.reason:<17} {node.key[:12]}  {node.path} #{node.index}"
            )
        if len(shown) < len(plan.nodes):
            lines.append(f"  ... {len(plan.nodes) - len(shown):,} more (--all lists them)")
    return "\n".join(lines)


def waves_text(waves: tuple[Wave, ...], now: datetime | None = None) -> list[str]:
    """Batches in flight, batch files awaiting results, results not taken back."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    lines = ["", "batches not taken back yet:"]
    for w in waves:
        age = _age(now - w.created_at)
        if w.file is not None:
            state = ("waiting for glanc ingest" if w.status == "written"
                     else "results ingested, not yet built: run glanc build")  # fmt: skip
            lines.append(f"  file {w.file}  {w.model}  {w.requests:,} requests, "
                         f"{state}; written {age} ago")  # fmt: skip
            continue
        if w.batch_id is None:  # the wave is recorded, its batch not created at the provider
            lines.append(f"  (no batch yet)  {w.model}  {w.requests:,} requests, not sent "
                         f"yet (recorded {age} ago): a build sends them")  # fmt: skip
            continue
        what = ("results in, not yet taken back: run glanc build" if w.terminal
                else f"{w.completed:,}/{w.requests:,} done, {w.failed:,} failed")  # fmt: skip
        lines.append(f"  {w.batch_id}  {w.model}  {w.status}  {what}; sent {age} ago")
    return lines


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def build_summary(result: BuildResult, *, failures: int = 20) -> list[str]:
    """What a build did, for stderr: rows and calls, failed nodes, skipped nodes."""
    if result.waiting is not None:
        lines = waiting_text(result)
    else:
        lines = [
            f"built {result.rows} rows into {result.dataset} in {result.seconds:.1f}s: "
            f"{result.lm_calls} model calls, tokens {result.tokens_in} in / "
            f"{result.tokens_out} out"
            + (f"; {result.carried} unchanged discipline(s) carried over" if result.carried else "")
        ]
    for failure in result.failures[:failures]:
        lines.append(
            f"failed {failure.stage} [{failure.discipline}] {failure.key[:12]}: {failure.error}"
        )
    if len(result.failures) > failures:
        lines.append(f"... and {len(result.failures) - failures} more failures")
    skipped = sum(st.skipped for st in result.stages.values())
    if skipped:
        lines.append(
            f"skipped {skipped} node(s) outside the selection: the dataset lacks their rows"
        )
    if result.short:
        lines.append(
            f"short: {result.short} row(s) of the quota are missing (the quality checks dropped "
            "every redraw of them, or of their subject or syllabus); manifest.json's "
            "quality.short lists them with reasons: raise quality.redraws or relax a check"
        )
    return lines


def waiting_text(result: BuildResult) -> list[str]:
    """A build that stopped at batch files: what to run, and what to do after."""
    w = result.waiting
    assert w is not None
    on = "batches at the provider" if w.batches and not (w.written or w.files) else "batch files"
    lines = [f"{w.calls:,} call(s) wait on {on}; {result.dataset.parent} is unchanged"]
    for wave in w.batches:
        lines.append(f"left running: {wave.batch_id}  {wave.model}  {wave.status}  "
                     f"{wave.completed:,}/{wave.requests:,} done")  # fmt: skip
    for path, n in w.written:
        lines.append(f"wrote {n:,} request(s) to {path}")
    for wave in w.files:
        lines.append(f"still awaiting results: {wave.file} ({wave.requests:,} requests)")
    if w.batches:
        lines.append("run the same command again later: it takes back what is done and sends "
                     "the next wave (glanc plan shows the batches meanwhile)")  # fmt: skip
    if w.written or w.files:
        lines.append(
            "run each file (vllm run-batch -i FILE -o RESULTS.jsonl --model NAME, or a "
            "provider's batch console), then: glanc ingest SPEC RESULTS.jsonl"
        )
    elif not w.batches:
        lines.append("next: glanc build SPEC --batch-file NEXT.jsonl writes them as a batch file")
    return lines


def shown_text(shown) -> list[str]:
    """``glanc show``'s text: the row (if any), then each node."""
    import json

    lines: list[str] = []
    if shown.row is not None:
        r = shown.row
        lines += [f"row {r['id']}  {'/'.join(r.get('taxonomy_path', []))}  "
                  f"subject {r.get('subject')!r}  {r.get('level')}, {r.get('difficulty')}"]
        if "dropped" in r:
            lines.append(f"dropped: {r['dropped'].get('check')}: {r['dropped'].get('reason')}")
        lines.append(f"sessions: {', '.join(r.get('sessions') or [])}")
        lines.append(f"key concepts: {', '.join(r.get('key_concepts') or [])}")
        for m in r.get("messages") or []:
            lines.append(f"{m['role']}: {m['content']}")
        lines.append("")
    if shown.ambiguous:
        lines.append(f"{len(shown.ambiguous)} keys start so; the newest is shown: "
                     + ", ".join(k[:16] for k in shown.ambiguous))  # fmt: skip
    for n in shown.nodes:
        lines.append(f"node {n.key}  {n.stage}  {n.model}  {n.status}  tokens "
                     f"{n.tokens[0]}+{n.tokens[1]}  attempts {n.attempts}  from {n.source}")
        if n.messages:
            for m in n.messages:
                lines.append(f"  [{m['role']}] " + str(m["content"]).replace("\n", "\n    "))
        elif n.inputs:
            lines.append(f"  inputs: {json.dumps(n.inputs, ensure_ascii=False)}")
        else:
            lines.append("  prompt: not stored (the node came from a lock; a build that calls "
                         "it again stores it)")  # fmt: skip
        lines.append(f"  output: {json.dumps(n.output, ensure_ascii=False)}")
        if n.raw:
            lines.append(f"  raw reply: {n.raw}")
        if n.error:
            lines.append(f"  error: {n.error}")
        lines.append("")
    return lines
