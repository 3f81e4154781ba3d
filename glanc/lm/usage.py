"""Token accounting per model and stage, and its cost from the spec's prices.

A build keeps two ledgers (``glanc.execute.tally``): what this run spent (calls
made now, shown live and in ``--json``) and what the dataset took (every node the dataset
uses, cached or not, from the tokens recorded with it: the manifest's figure,
the same on every rebuild).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..specs.contract import OPTIONAL_STAGES, STAGES
from ..specs.models import ModelInfo, batch_settings, wants_batch


def price_of(info: ModelInfo, *, batch: bool | None = None) -> tuple[float, float] | None:
    """USD per million tokens in and out, when the spec gives the model a price.
    Through a Batch API (``batch``; by default, as this build routes the model)
    that is the model's batch price, or its price times the batch discount."""
    price = info.ref.option("price")
    base = None
    if price is not None:
        p = dict(price)
        base = float(p.get("input", 0)), float(p.get("output", 0))
    batched = info.batch if batch is None else batch
    if not batched:
        return base
    settings = batch_settings(info.ref)
    if settings.price is not None:
        return settings.price
    return None if base is None else discounted(info, base, batch=True)


def discounted(
    info: ModelInfo, price: tuple[float, float], *, batch: bool | None = None
) -> tuple[float, float]:
    """A full price as it is billed on this model's route (``--price`` is a full price)."""
    if not (info.batch if batch is None else batch):
        return price
    share = batch_settings(info.ref).discount
    return price[0] * share, price[1] * share


def cost(price: tuple[float, float], tokens_in: float, tokens_out: float) -> float:
    return (tokens_in * price[0] + tokens_out * price[1]) / 1e6


@dataclass
class Tokens:
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


def _sum(cells: Iterable[Tokens]) -> Tokens:
    out = Tokens()
    for cell in cells:
        out.calls += cell.calls
        out.tokens_in += cell.tokens_in
        out.tokens_out += cell.tokens_out
    return out


@dataclass
class Ledger:
    """Tokens per model label and stage; a model's cost when it has a price.
    ``by_spec``: priced by the route the spec names (the manifest's figure, the
    same bytes whatever ``--backend`` a build ran with), else by this run's."""

    cells: dict[str, dict[str, Tokens]] = field(default_factory=dict)
    prices: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    by_spec: bool = False

    def add(self, info: ModelInfo, stage: str, tokens_in: int, tokens_out: int, calls: int) -> None:
        label = info.label
        if label not in self.prices:
            route = wants_batch(info.ref) if self.by_spec else None
            self.prices[label] = price_of(info, batch=route)
        cell = self.cells.setdefault(label, {}).setdefault(stage, Tokens())
        cell.calls += calls
        cell.tokens_in += tokens_in
        cell.tokens_out += tokens_out

    def total(self, label: str) -> Tokens:
        """One model's tokens over every stage."""
        return _sum(self.cells.get(label, {}).values())

    def stage_total(self, stage: str) -> Tokens:
        """One stage's tokens over every model."""
        return _sum(cells[stage] for cells in self.cells.values() if stage in cells)

    def grand_total(self) -> Tokens:
        return _sum(cell for cells in self.cells.values() for cell in cells.values())

    def cost(self, label: str) -> float | None:
        price = self.prices.get(label)
        if price is None:
            return None
        t = self.total(label)
        return cost(price, t.tokens_in, t.tokens_out)

    def as_json(self, calls: str = "calls") -> dict[str, Any]:
        """``{model: {calls, tokens_in, tokens_out, [cost_usd], stages: {...}}}``,
        sorted, so that the manifest is the same bytes for the same build."""
        out: dict[str, Any] = {}
        for label in sorted(self.cells):
            t = self.total(label)
            entry: dict[str, Any] = {calls: t.calls, "tokens_in": t.tokens_in,
                                     "tokens_out": t.tokens_out}  # fmt: skip
            c = self.cost(label)
            if c is not None:
                entry["cost_usd"] = round(c, 6)
            entry["stages"] = {
                stage: {calls: s.calls, "tokens_in": s.tokens_in, "tokens_out": s.tokens_out}
                for stage in (*STAGES, *OPTIONAL_STAGES)
                if (s := self.cells[label].get(stage)) is not None
            }
            out[label] = entry
        return out
