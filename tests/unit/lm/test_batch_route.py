"""Which models go through a Batch API, and what they cost there."""

import pytest

from glanc.lm.usage import Ledger, discounted, price_of
from glanc.specs.models import ModelInfo, ModelSpecError, batch_settings, routed
from glanc.specs.types import ModelRef


def remote(**options) -> ModelInfo:
    opts = {"api_base": "http://127.0.0.1:9/v1", "price": (("input", 2.0), ("output", 8.0)),
            **options}  # fmt: skip
    return ModelInfo("remote", ModelRef("openai/m", tuple(sorted(opts.items()))))


def test_the_spec_routes_unless_the_flag_says_otherwise():
    plain, marked, kept = remote(), remote(batch=True), remote(batch=False)
    assert not routed(plain, None).batch and routed(marked, None).batch
    assert routed(plain, "batch").batch and not routed(kept, "batch").batch
    assert not routed(marked, "threads").batch


def test_only_openai_compatible_servers_batch():
    with pytest.raises(ModelSpecError, match="in-process"):
        routed(ModelInfo("stub", ModelRef("stub")), "batch")
    hosted = ModelInfo("remote", ModelRef("anthropic/claude", (("batch", True),)))
    with pytest.raises(ModelSpecError, match="not an openai/NAME server"):
        routed(hosted, None)


def test_batch_price_is_the_discount_or_its_own():
    info = routed(remote(batch=True), None)
    assert price_of(info) == (1.0, 4.0)
    assert price_of(info, batch=False) == (2.0, 8.0)
    own = routed(remote(batch=(("price", (("input", 0.5), ("output", 1.5))),)), None)
    assert price_of(own) == (0.5, 1.5)
    share = routed(remote(batch=(("discount", 0.25),)), None)
    assert price_of(share) == (0.5, 2.0) and discounted(share, (4.0, 4.0)) == (1.0, 1.0)
    assert batch_settings(share.ref).max_requests == 50_000


def test_the_manifests_ledger_prices_by_the_spec_not_the_run():
    flagged = routed(remote(), "batch")  # --backend batch on a model the spec leaves on threads
    run, spec = Ledger(), Ledger(by_spec=True)
    for ledger in (run, spec):
        ledger.add(flagged, "answer", 1_000_000, 1_000_000, 1)
    assert run.cost(flagged.label) == 5.0 and spec.cost(flagged.label) == 10.0
