"""Calls on a Ray cluster, through Ray Data: each wave of a model's pending calls
becomes a Dataset, run with ``map_batches`` on the cluster's workers.

The scheduler hands every ready call over at once (this backend keeps each
model within its limits itself); a model's calls go out as one wave while no
other of that model is running, so a wave holds every call of that model the
build can make by then, and models run side by side. Results stream back as
each batch of calls finishes, and the coordinator records them as they come:
a kill loses only the batches in flight, and a rerun takes the rest from the
store like any build. What runs on a worker is ``work.run_calls``, the thread
backend's own ``Caller``, so the bytes are the thread backend's.

Ray is optional (``pip install 'glanc[ray]'``); ``ray.init()`` starts a local
Ray unless ``address`` (or ``RAY_ADDRESS``) names a cluster.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import queue
import threading
import uuid
import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ...errors import GlancError
from ...lm.call import Outcome
from ...recipe.node import Node
from ...specs.models import ModelInfo
from ...specs.types import Template
from .work import Work, failed, run_calls, throttle

INSTALL = "pip install -e '.[ray]' (or pip install 'ray[data]')"
BATCH_ROUNDS = 2  # calls per worker thread in one batch: results come back per batch


def ray_module():
    """``ray``, or a one-line error that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is the part glanc uses
    except ImportError as exc:
        raise GlancError(
            f"--backend ray needs Ray Data, which is not installed: {INSTALL}"
        ) from exc
    return ray


@dataclass(frozen=True)
class Shape:
    """How a model's wave runs: ``tasks`` Ray tasks at once, each with ``threads``
    calls in flight, ``batch`` calls to a task; ``rpm``/``tpm`` per task."""

    tasks: int
    threads: int
    batch: int
    rpm: int | None
    tpm: int | None


def shape(model: ModelInfo, concurrency: int, rpm: int | None, tpm: int | None, cpus: int) -> Shape:
    """A model's limits spread over the cluster: at most ``concurrency`` calls in
    flight (an embedded model: one per worker that holds it, one worker unless the
    spec says ``concurrency``), and each task a share of the requests and tokens
    per minute."""
    ref = model.ref
    default = 1 if model.kind == "gguf" else concurrency
    inflight = max(1, min(int(ref.option("concurrency", default)), concurrency))
    if model.kind == "gguf":
        tasks, threads = inflight, 1
    else:
        tasks = max(1, min(inflight, cpus))
        threads = math.ceil(inflight / tasks)
    rpm, tpm = ref.option("rpm", rpm), ref.option("tpm", tpm)
    share = (lambda v: None if v is None else max(1, int(v) // tasks))  # noqa: E731
    return Shape(tasks, threads, threads * BATCH_ROUNDS, share(rpm), share(tpm))


def call_batch(batch: dict[str, Any], *, template: bytes, threads: int, wave: str,
               rpm: int | None, tpm: int | None) -> dict[str, Any]:  # fmt: skip
    """The Ray Data UDF: one batch of pickled calls in, their pickled outcomes out."""
    import numpy as np

    works = [pickle.loads(blob) for blob in batch["call"]]
    limit = throttle(wave, works[0].model, rpm, tpm) if works else None
    outcomes = run_calls(template, works, threads, limit)
    blobs = np.empty(len(outcomes), dtype=object)
    blobs[:] = [pickle.dumps(o) for o in outcomes]
    return {"i": batch["i"], "outcome": blobs}


class RayBackend:
    """Runs nodes' calls as Ray Data waves, one per model at a time."""

    def __init__(self, template: Template, *, concurrency: int, rpm: int | None = None,
                 tpm: int | None = None, address: str | None = None,
                 env: tuple[str, ...] = ()):  # fmt: skip
        self.ray = ray_module()
        self.concurrency, self.rpm, self.tpm = max(1, concurrency), rpm, tpm
        self._template = pickle.dumps(template)
        self._started = not self.ray.is_initialized()
        if self._started:
            _init(self.ray, address, env)
        self._cpus = max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        self._pending: dict[ModelInfo, list[Node]] = defaultdict(list)
        self._running: dict[ModelInfo, threading.Thread] = {}
        self._results: queue.Queue = queue.Queue()
        self._inflight = 0
        self._stop = threading.Event()
        self.waves = 0

    @property
    def inflight(self) -> int:
        return self._inflight

    stalled = False  # every wave finishes on its own

    def accepts(self, node: Node) -> bool:
        return True

    def limits_calls(self, node: Node) -> bool:
        return True  # a wave is handed over whole; its shape keeps the model's limits

    def submit(self, node: Node) -> None:
        self._pending[node.model].append(node)
        self._inflight += 1

    def poll(self, timeout: float) -> list[tuple[Node, Outcome]]:
        self._launch()
        out: list[tuple[Node, Outcome]] = []
        try:
            item = self._results.get(timeout=timeout)
            while True:
                self._take(item, out)
                item = self._results.get_nowait()
        except queue.Empty:
            pass
        return out

    def _take(self, item, out: list[tuple[Node, Outcome]]) -> None:
        if isinstance(item, ModelInfo):  # a wave ended: the model's next may go
            self._running.pop(item).join()
            self._launch()
            return
        self._inflight -= 1
        out.append(item)

    def _launch(self) -> None:
        for model, nodes in list(self._pending.items()):
            if model in self._running or not nodes:
                continue
            del self._pending[model]
            self.waves += 1
            thread = threading.Thread(target=self._wave, args=(model, nodes), daemon=True,
                                      name=f"glanc-ray-wave-{self.waves}")  # fmt: skip
            self._running[model] = thread
            thread.start()

    def _wave(self, model: ModelInfo, nodes: list[Node]) -> None:
        """Run one wave and put each node's outcome on the queue as its batch ends;
        a wave Ray cannot finish fails the calls it did not answer, with the reason."""
        given: set[int] = set()
        try:
            form = shape(model, self.concurrency, self.rpm, self.tpm, self._cpus)
            dataset = self._dataset(model, nodes, form)
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                if self._stop.is_set():
                    return
                for i, blob in zip(batch["i"], batch["outcome"], strict=True):
                    given.add(int(i))
                    self._results.put((nodes[int(i)], pickle.loads(blob)))
        except Exception as exc:  # noqa: BLE001 - the build goes on; the calls failed
            if self._stop.is_set():
                return
            lost = failed(RuntimeError(f"ray: {_first_line(exc)}"))
            for i, node in enumerate(nodes):
                if i not in given:
                    self._results.put((node, lost))
        finally:
            self._results.put(model)

    def _dataset(self, model: ModelInfo, nodes: list[Node], form: Shape):
        ray = self.ray
        items = [{"i": i, "call": pickle.dumps(Work.of(n))} for i, n in enumerate(nodes)]
        # a small wave still spreads over every task; a big one in batches of form.batch
        size = max(1, min(form.batch, math.ceil(len(items) / form.tasks)))
        blocks = max(1, min(math.ceil(len(items) / size), 4096))
        dataset = ray.data.from_items(items, override_num_blocks=blocks)
        return dataset.map_batches(
            call_batch,
            batch_size=size,
            batch_format="numpy",
            compute=ray.data.TaskPoolStrategy(size=form.tasks),
            num_cpus=1 if model.kind == "gguf" else min(1.0, self._cpus / form.tasks),
            fn_kwargs={"template": self._template, "threads": form.threads,
                       "wave": uuid.uuid4().hex, "rpm": form.rpm, "tpm": form.tpm},  # fmt: skip
        )

    def cancel(self) -> None:
        self._stop.set()
        self.close()

    def close(self) -> None:
        self._stop.set()
        for thread in list(self._running.values()):
            thread.join(timeout=5)
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()


def _init(ray, address: str | None, env: tuple[str, ...]) -> None:
    """Connect to the cluster at ``address`` (else ``RAY_ADDRESS``), or start a
    local Ray; the environment variables the models' keys are read from go to
    the workers with the job. Ray and Ray Data say nothing on glanc's streams."""
    runtime_env = {"env_vars": {name: os.environ[name] for name in env if name in os.environ}}
    _reachable(address or os.environ.get("RAY_ADDRESS"))
    try:
        ray.init(
            address=address or os.environ.get("RAY_ADDRESS") or None,
            runtime_env=runtime_env if runtime_env["env_vars"] else None,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            configure_logging=True,
        )
    except Exception as exc:  # noqa: BLE001 - a cluster that cannot be reached is bad input
        where = address or os.environ.get("RAY_ADDRESS") or "a local Ray"
        raise GlancError(f"could not start Ray at {where}: {_first_line(exc)}; check "
                         "--ray-address (or RAY_ADDRESS), or leave it out for a local Ray") from exc
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"ray(\.|$)")


def _reachable(address: str | None) -> None:
    """A cluster address of the form [ray://]HOST:PORT must answer within 5 s: an
    unreachable one kept ``ray.init`` retrying for minutes, printing Ray's warnings."""
    if not address or address in ("auto", "local"):
        return
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return  # not HOST:PORT: Ray says what it makes of it
    if not host or not port:
        return
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise GlancError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}; "
                         "check --ray-address (or RAY_ADDRESS), or leave it out for a local "
                         "Ray") from None  # fmt: skip


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:300] if text else "") or type(exc).__name__
