"""The Batch API backend: waves of calls sent as provider batches, at about half
the price, and taken back by node key.

Each wave of calls is written as OpenAI Batch JSONL (``custom_id`` = node key,
``body`` = exactly the request the thread backend would send, rendered by the
same DSPy program), uploaded, submitted and polled with backoff; its output
and error files are read back by key and judged by the same parser and checks
as a direct call. Every id is in the store the moment it exists
(``glanc.store.batches``): a killed build's rerun polls the same batches and
never sends a request twice. With ``batch_file`` a wave is written for the
user to run elsewhere (``vllm run-batch``, a provider's console) and taken back
with ``glanc ingest``. The coordinator thread calls every method; the store's
node records are still written by the scheduler alone.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...errors import TRANSPORT
from ...lm.call import MAX_ATTEMPTS, TRANSPORT_ATTEMPTS, Caller, Outcome
from ...lm.credentials import endpoint
from ...lm.openai_batch import BatchAPIError, BatchClient, Unreachable
from ...recipe.node import Node
from ...specs.models import ModelInfo, batch_settings
from ...store.batches import FILE, QUEUED, UPLOADED, UPLOADING, WRITTEN, Batches, Wave, WaveRequest
from ..events import BatchStatus, Event
from . import batch_lines as lines


@dataclass
class _Call:
    """A node submitted and not yet returned: its draw, resends and spend so far."""

    node: Node
    attempt: int = 1
    resent: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    started: float = field(default_factory=time.monotonic)
    line: bytes = b""  # its request as a batch file line, once rendered
    sha: str = ""


@dataclass
class _Live:
    """A wave this run follows: its store row, who waits on it, when to look again."""

    row: Wave
    keys: set[str]  # its requests not yet resolved
    next_poll: float = 0.0
    interval: float = 5.0
    lines: dict[str, str] | None = None  # its result lines by key, once read
    parked: bool = False  # detached: left at the provider until a later run


class BatchBackend:
    """Sends the calls of models routed to a Batch API; see the module docstring.
    ``send=False`` (``glanc ingest``): take back what came in, send nothing new.
    ``detach``: send each wave and leave it at the provider (look once at the
    waves an earlier run sent), so a build of hours need not keep a process."""

    def __init__(
        self,
        caller: Caller,
        batches: Batches,
        emit: Callable[[Event], None],
        *,
        batch_file: Path | None = None,
        send: bool = True,
        detach: bool = False,
    ):
        self.caller, self.book, self.emit = caller, batches, emit
        self.batch_file, self.send, self.detach = batch_file, send, detach
        self.calls: dict[str, _Call] = {}
        self.unsent: dict[ModelInfo, list[str]] = {}
        self.parked: set[str] = set()  # waiting on something outside this process
        self.written: list[tuple[Path, int]] = []  # batch files this run wrote
        self.waiting_files: dict[str, Wave] = {}  # batch files still awaiting results
        self.at_provider: dict[str, Wave] = {}  # detached: batches left running
        self._done: list[tuple[Node, Outcome]] = []
        self._clients: dict[ModelInfo, BatchClient] = {}
        self._live: dict[str, _Live] = {}
        self._resumable: dict[str, tuple[str, WaveRequest]] = {}
        self._unsent_bytes: dict[ModelInfo, int] = {}
        self._queued = f"queued-{uuid.uuid4().hex[:12]}"  # this run's decided, unsent draws
        self._resolved: list[_Live] = []  # read waves with nothing left to hand back
        self._settling: list[_Live] = []  # ... whose last results went back at the last poll
        open_waves = batches.open()
        for wave in open_waves:
            if wave.status == UPLOADING:  # never reached the provider whole: nothing to pay
                batches.ingested(wave.wave)
                continue
            self._live[wave.wave] = _Live(wave, set())
        for name, requests in batches.requests(self._live).items():
            for request in requests:  # the latest wave of a key wins (oldest first)
                self._resumable[request.key] = (name, request)
            self._live[name].keys = {r.key for r in requests}

    # -- the backend protocol ---------------------------------------------------------
    @property
    def inflight(self) -> int:
        return len(self.calls) + len(self._done)  # results not yet handed back count

    @property
    def stalled(self) -> bool:
        """Every call left waits on a batch file someone runs elsewhere."""
        return bool(self.calls) and not self._done and len(self.parked) == len(self.calls)

    def accepts(self, node: Node) -> bool:
        return True  # a wave holds 50,000 calls; the provider queues them

    def limits_calls(self, node: Node) -> bool:
        return node.model.batch  # the provider queues a wave whole

    def submit(self, node: Node) -> None:
        call = _Call(node)
        self.calls[node.key] = call
        if not node.model.batch:  # a run that sends nothing: not a batched model's call
            self.parked.add(node.key)
            return
        found = self._resumable.pop(node.key, None)
        if found is not None and self._attach(call, *found):
            return
        self._queue(call)

    def poll(self, timeout: float) -> list[tuple[Node, Outcome]]:
        # waves whose last results went back at the previous poll: recorded by now
        for live in self._settling:
            self.book.ingested(live.row.wave)
            live.row = replace(live.row, ingested=True)
        if not self._done:
            now = time.monotonic()
            for live in list(self._live.values()):
                if self._pollable(live) and live.next_poll <= now:
                    self._check(live)
        if not self._done:
            due = [lv.next_poll for lv in self._live.values() if self._pollable(lv)]
            if due:
                time.sleep(max(0.0, min(timeout, min(due) - time.monotonic())))
        out, self._done = self._done, []
        self._settling, self._resolved = self._resolved, []
        return out

    def cancel(self) -> None:
        """Ctrl-C: the provider keeps the batches; their ids are in the store, so
        the next run polls them rather than sending anything again."""

    def close(self) -> None:
        for live in self._live.values():
            done = live.row.terminal or (live.row.status == QUEUED and not self.calls)
            if done and not live.keys and not live.row.ingested:
                self.book.ingested(live.row.wave)
        if not self.calls:  # every draw decided on was sent and came back
            for wave in self.book.open():
                if wave.status == QUEUED:
                    self.book.ingested(wave.wave)

    # -- waves out ------------------------------------------------------------------
    def flush(self) -> None:
        """Send what is queued, a wave per model (split at the provider's caps), or
        write it to the batch file; without ``send``, leave it for a later run."""
        queued, self.unsent, self._unsent_bytes = self.unsent, {}, {}
        for model, keys in queued.items():
            if not keys:
                continue
            if not self.send:
                self.parked.update(keys)
                continue
            settings = batch_settings(model.ref)
            pairs = [(key, self.calls[key].line) for key in keys]
            for chunk in lines.chunks(pairs, settings.max_requests, settings.max_bytes):
                if self.batch_file is not None:
                    self._write_file(model, chunk)
                else:
                    self._send(model, chunk)

    def _queue(self, call: _Call) -> None:
        body = self.caller.render(call.node, call.attempt)
        call.sha, call.line = lines.body_digest(body), lines.request_line(call.node.key, body)
        if call.attempt > 1 or call.resent:  # decided now: a kill must not forget it
            self.book.queue(self._queued, self._request(call))
        model = call.node.model
        self.unsent.setdefault(model, []).append(call.node.key)
        size = self._unsent_bytes.get(model, 0) + len(call.line)
        self._unsent_bytes[model] = size
        settings = batch_settings(model.ref)
        if len(self.unsent[model]) >= settings.max_requests or size >= settings.max_bytes:
            self.flush()

    def _record(self, model: ModelInfo, where: str, status: str,
                chunk: list[tuple[str, bytes]]) -> Wave:  # fmt: skip
        data = b"".join(line for _, line in chunk)
        name = f"{hashlib.sha256(data).hexdigest()[:12]}-{uuid.uuid4().hex[:8]}"
        requests = [self._request(self.calls[key]) for key, _ in chunk]
        self.book.add(name, model.label, where, status, requests)
        row = self.book.wave(name)
        poll_s = batch_settings(model.ref).poll_s
        self._live[name] = _Live(row, {key for key, _ in chunk}, interval=poll_s)
        return row

    def _write_file(self, model: ModelInfo, chunk: list[tuple[str, bytes]]) -> None:
        assert self.batch_file is not None
        n = len(self.written)
        path = self.batch_file if n == 0 else self.batch_file.with_name(
            f"{self.batch_file.stem}-{n + 1}{self.batch_file.suffix}"
        )
        lines.write_file(path, b"".join(line for _, line in chunk))
        self._record(model, f"{FILE}{path.resolve()}", WRITTEN, chunk)
        self.written.append((path, len(chunk)))
        self.parked.update(key for key, _ in chunk)

    def _send(self, model: ModelInfo, chunk: list[tuple[str, bytes]]) -> None:
        client = self._client(model)
        row = self._record(model, endpoint(model).base or "", UPLOADING, chunk)
        data = b"".join(line for _, line in chunk)
        live = self._live[row.wave]
        try:  # an upload that fails costs nothing: its calls fail, and a rerun sends them
            uploaded = client.upload(f"glanc-{row.wave}.jsonl", data)
            self.book.update(row.wave, status=UPLOADED, input_file=str(uploaded["id"]))
        except (BatchAPIError, KeyError) as exc:
            return self._fail_wave(live, f"{TRANSPORT}cannot upload a wave: {_why(exc)}")
        try:
            self._create(live, model, adopt=False)
        except Unreachable:  # it may exist: look for it at the next check, never create blind
            live.row = self.book.wave(row.wave)
            live.next_poll = time.monotonic() + live.interval
        except BatchAPIError as exc:  # refused: no batch was made
            return self._fail_wave(live, f"{TRANSPORT}cannot create a batch: {_why(exc)}")
        if self.detach:
            self._leave(live)

    def _create(self, live: _Live, model: ModelInfo, adopt: bool) -> None:
        """Create the batch of an uploaded file or, after a kill between the two
        (``adopt``), the batch that run made of it, if it made one."""
        live.row = row = self.book.wave(live.row.wave)
        assert row.input_file is not None
        client = self._client(model)
        batch = client.find(row.input_file) if adopt else None
        if batch is None:
            window = batch_settings(model.ref).window
            batch = client.create(row.input_file, window, {"glanc_wave": row.wave})
        self._update(live, batch)

    # -- waves in -------------------------------------------------------------------
    def _attach(self, call: _Call, wave: str, request: WaveRequest) -> bool:
        """Follow the wave a killed run sent this very request in (same draw, same
        body): nothing is sent again."""
        live = self._live.get(wave)
        if live is None:
            return False
        body = self.caller.render(call.node, request.attempt)
        if lines.body_digest(body) != request.body_sha:  # another draw than the one sent (--force)
            return False
        call.attempt, call.resent = request.attempt, request.resent
        call.tokens_in, call.tokens_out = request.tokens_in, request.tokens_out
        call.sha = request.body_sha
        if live.row.status == QUEUED:  # decided by a run that stopped: send it now
            live.keys.discard(call.node.key)
            return False
        if live.row.status == WRITTEN:
            self.parked.add(call.node.key)
            self.waiting_files[wave] = live.row
        elif live.lines is not None:  # read already this run: take its line now
            self._take(live, call.node.key)
        elif live.row.file is not None:  # a batch file's results, filed by glanc ingest
            self._read(live, None)
        return True

    def _attached(self, live: _Live) -> bool:
        return any(key in self.calls for key in live.keys)

    def _pollable(self, live: _Live) -> bool:
        """A provider's wave that this run waits on and has not read yet."""
        return (
            bool(live.keys)
            and live.lines is None
            and not live.parked
            and live.row.status != QUEUED
            and not live.row.file is not None
            and self._attached(live)
        )

    def _check(self, live: _Live) -> None:
        """Look at a wave once: its batch's status; its results when it is over."""
        row = live.row
        model = self.calls[next(k for k in live.keys if k in self.calls)].node.model
        client = self._client(model)
        try:
            if row.batch_id is None:  # uploaded, not created (killed in between)
                self._create(live, model, adopt=True)
            elif not row.terminal:
                self._update(live, client.retrieve(row.batch_id))
            if live.row.terminal:
                self._read(live, client)
                return
        except Unreachable as exc:
            live.next_poll = time.monotonic() + live.interval  # the provider may be back soon
            self.emit(BatchStatus(row.wave, row.batch_id, f"unreachable: {_why(exc)}",
                                  row.requests, row.completed, row.failed))  # fmt: skip
            if self.detach:
                self._leave(live)
            return
        except BatchAPIError as exc:
            # refused (a key changed, a batch gone): this run's calls fail with the reason,
            # and the wave stays open, so a rerun that mends it polls it and pays nothing twice
            for key in [k for k in live.keys if k in self.calls]:
                self._fail(self.calls[key], f"{TRANSPORT}batch {row.batch_id}: {_why(exc)}")
            return
        live.next_poll = time.monotonic() + live.interval
        live.interval = min(batch_settings(model.ref).poll_max_s, live.interval * 1.5)
        if self.detach:  # looked at once this run: not done yet, so left for a later one
            self._leave(live)

    def _leave(self, live: _Live) -> None:
        """Detached: this run waits no longer on the wave; its calls stay at the provider."""
        live.parked = True
        self.parked.update(k for k in live.keys if k in self.calls)
        self.at_provider[live.row.wave] = live.row

    def _update(self, live: _Live, batch: dict[str, Any]) -> None:
        values = lines.batch_state(batch)
        self.book.update(live.row.wave, **values)
        live.row = replace(live.row, **values)
        r = live.row
        self.emit(BatchStatus(r.wave, r.batch_id, r.status, r.requests, r.completed, r.failed))

    def _read(self, live: _Live, client: BatchClient | None) -> None:
        """A finished wave's result lines (output and error files), by key; then
        every request this run waits on is taken back."""
        row = live.row
        taken: dict[str, str] = {}
        if row.status == "failed" and not row.output_file:
            why = row.note or "no reason given"
            self._fail_wave(live, f"{TRANSPORT}batch {row.batch_id} failed: {why}")
            return
        texts: list[str] = []
        if client is None:
            texts = self.book.results(row.wave)
        else:
            for file_id in (row.output_file, row.error_file):
                if file_id:
                    texts += client.content(file_id).decode("utf-8", "replace").splitlines()
        for text in texts:
            key = lines.custom_id(text) if text.strip() else None
            if key is not None and key in live.keys:
                taken[key] = text
        live.lines = taken
        for key in list(live.keys):
            if key in self.calls:
                self._take(live, key)

    def _take(self, live: _Live, key: str) -> None:
        """Resolve one request of a read wave: a result, a resend or a next draw."""
        call, line = self.calls[key], (live.lines or {}).pop(key, None)
        live.keys.discard(key)
        if not live.keys:
            self._resolved.append(live)
        if line is None:
            if live.row.status in ("expired", "cancelled"):
                return self._resend(call, f"batch {live.row.status} before this request ran")
            why = f"batch {live.row.batch_id} returned no result for it"
            return self._fail(call, TRANSPORT + why)
        result = lines.read(line)
        if result.kind == "resend":
            return self._resend(call, result.why)
        if result.completion is None:
            return self._fail(call, result.why)
        tried = self.caller.answer(call.node, call.attempt, result.completion)
        call.tokens_in += tried.tokens_in
        call.tokens_out += tried.tokens_out
        if tried.error is None:
            return self._ok(call, tried.output)
        if tried.error.startswith(TRANSPORT):
            why = tried.error[len(TRANSPORT):]
            return self._fail(call, f"{TRANSPORT}malformed batch output line: {why}", tried.raw)
        if tried.retry and call.attempt < MAX_ATTEMPTS:
            call.attempt += 1
            return self._queue(call)
        return self._fail(call, tried.error, tried.raw)

    def _resend(self, call: _Call, why: str) -> None:
        tries = int(call.node.model.ref.option("max_retries", TRANSPORT_ATTEMPTS - 1))
        if call.resent >= tries:
            return self._fail(call, f"{TRANSPORT}{why} (after {call.resent + 1} tries)")
        call.resent += 1
        self._queue(call)

    def _fail_wave(self, live: _Live, why: str) -> None:
        for key in list(live.keys):
            if key in self.calls:
                self._fail(self.calls[key], why)
        live.keys = set()
        self.book.ingested(live.row.wave)

    def _ok(self, call: _Call, output: dict[str, Any] | None) -> None:
        self._finish(call, Outcome(output, None, None, call.attempt, call.tokens_in,
                                   call.tokens_out, _ms(call)))  # fmt: skip

    def _fail(self, call: _Call, error: str, raw: str | None = None) -> None:
        self._finish(call, Outcome(None, raw, error, call.attempt, call.tokens_in,
                                   call.tokens_out, _ms(call)))  # fmt: skip

    def _finish(self, call: _Call, outcome: Outcome) -> None:
        del self.calls[call.node.key]
        self.parked.discard(call.node.key)
        self._done.append((call.node, outcome))

    # -- helpers ------------------------------------------------------------------
    def _request(self, call: _Call) -> WaveRequest:
        return WaveRequest(call.node.key, call.attempt, call.resent, call.sha,
                           call.tokens_in, call.tokens_out)  # fmt: skip

    def _client(self, model: ModelInfo) -> BatchClient:
        client = self._clients.get(model)
        if client is None:
            timeout = float(model.ref.option("timeout", 120))
            client = self._clients[model] = BatchClient(endpoint(model), timeout)
        return client


def _ms(call: _Call) -> float:
    return (time.monotonic() - call.started) * 1000


def _why(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
