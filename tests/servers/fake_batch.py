"""The OpenAI Batch API, faked for tests: files in, batches, files out.

Served by ``fake_openai.py`` beside its chat endpoint, answering each request
of a batch with exactly what ``/v1/chat/completions`` answers for the same
body, so a batched build and a direct one meet the same fake model.

A batch moves one status per status check (``--batch-steps`` checks each):
validating -> in_progress -> finalizing -> completed, as OpenAI's do. Its
requests are answered on the way to finalizing: the output file holds one
line per answered request, the error file one per failed one. Faults, by the
batch's number (1 for the first created) or the request's: ``--batch-fail N``
fails batch N's validation; ``--batch-expire N`` expires batch N with half its
requests answered (the rest ``batch_expired`` in its error file);
``--batch-malformed K`` writes every Kth output line with a body that is not a
chat completion; ``--batch-errors K`` answers every Kth request with a 500 in
the error file; ``--batch-lose-create N`` makes batch N but answers its create
with a 503; ``--batch-deny N`` answers batch N's status checks with a 403 until
``POST /batch-allow``. ``POST /v1/batches/{id}/cancel`` cancels (cancelling, then
cancelled). ``GET /batch-stats`` counts files, batches and requests.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from aiohttp import web

ENDPOINT = "/v1/chat/completions"


class FakeBatches:
    def __init__(
        self,
        answer: Callable[[dict], dict],
        steps: int = 1,
        fail: tuple[int, ...] = (),
        expire: tuple[int, ...] = (),
        malformed_every: int | None = None,
        errors_every: int | None = None,
        lose_create: tuple[int, ...] = (),
        deny: tuple[int, ...] = (),
    ):
        self.answer = answer  # request body -> chat completion JSON
        self.steps = max(1, steps)
        self.fail, self.expire = fail, expire
        self.malformed_every, self.errors_every = malformed_every, errors_every
        self.lose_create = lose_create  # creates whose batch is made but whose reply is a 503
        self.deny = set(deny)  # batches whose status checks get a 403, until POST /batch-allow
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.order: list[str] = []
        self.checks: dict[str, int] = {}
        self.answered = 0  # requests answered over all batches
        self.bodies: list[str] = []  # a digest of each request body in a batch file
        self.stats = {"files": 0, "batches": 0, "requests": 0, "retrieves": 0, "lists": 0}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/files", self.upload)
        app.router.add_get("/v1/files/{id}/content", self.content)
        app.router.add_post("/v1/batches", self.create)
        app.router.add_get("/v1/batches", self.list)
        app.router.add_get("/v1/batches/{id}", self.retrieve)
        app.router.add_post("/v1/batches/{id}/cancel", self.cancel)
        app.router.add_get("/batch-stats", self.stats_view)
        app.router.add_post("/batch-allow", self.allow)

    # -- files -------------------------------------------------------------------
    async def upload(self, request: web.Request) -> web.Response:
        purpose, data, name = None, None, "upload.jsonl"
        async for part in await request.multipart():
            if part.name == "purpose":
                purpose = (await part.read()).decode()
            elif part.name == "file":
                name = part.filename or name
                data = await part.read()
        if purpose != "batch" or data is None:
            return _error(400, "a batch file upload needs purpose=batch and a file")
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = bytes(data)
        self.stats["files"] += 1
        return web.json_response({"id": file_id, "object": "file", "bytes": len(data),
                                  "created_at": int(time.time()), "filename": name,
                                  "purpose": "batch"})  # fmt: skip

    async def content(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["id"])
        if data is None:
            return _error(404, "no such file")
        return web.Response(body=data, content_type="application/octet-stream")

    # -- batches ------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("input_file_id") not in self.files:
            return _error(400, "input_file_id names no file")
        if body.get("endpoint") != ENDPOINT or body.get("completion_window") != "24h":
            return _error(400, "endpoint must be /v1/chat/completions, window 24h")
        number = len(self.batches) + 1
        batch_id = f"batch_{number}"
        lines = self.files[body["input_file_id"]].decode().splitlines()
        for line in lines:
            request_body = json.loads(line)["body"]
            self.bodies.append(
                hashlib.sha256(json.dumps(request_body, sort_keys=True).encode()).hexdigest()
            )
        self.batches[batch_id] = {
            "id": batch_id, "object": "batch", "endpoint": ENDPOINT, "errors": None,
            "input_file_id": body["input_file_id"], "completion_window": "24h",
            "status": "validating", "output_file_id": None, "error_file_id": None,
            "created_at": int(time.time()), "metadata": body.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        }  # fmt: skip
        self.order.append(batch_id)
        self.checks[batch_id] = 0
        self.stats["batches"] += 1
        self.stats["requests"] += len(lines)
        if number in self.lose_create:  # made, but the client never hears of it
            return _error(503, "upstream timed out")
        return web.json_response(self.batches[batch_id])

    async def list(self, request: web.Request) -> web.Response:
        self.stats["lists"] += 1
        limit = int(request.query.get("limit", 20))
        newest = list(reversed(self.order))
        after = request.query.get("after")
        if after in newest:
            newest = newest[newest.index(after) + 1 :]
        page = newest[:limit]
        return web.json_response({"object": "list", "data": [self.batches[b] for b in page],
                                  "has_more": len(newest) > limit})  # fmt: skip

    async def retrieve(self, request: web.Request) -> web.Response:
        batch_id = request.match_info["id"]
        batch = self.batches.get(batch_id)
        if batch is None:
            return _error(404, "no such batch")
        if self.order.index(batch_id) + 1 in self.deny:
            return _error(403, "this key may not read that batch")
        self.stats["retrieves"] += 1
        self.checks[batch_id] += 1
        if self.checks[batch_id] % self.steps == 0:
            self._advance(batch_id)
        return web.json_response(batch)

    async def cancel(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, "no such batch")
        if batch["status"] in ("validating", "in_progress", "finalizing"):
            batch["status"] = "cancelling"
        return web.json_response(batch)

    async def allow(self, request: web.Request) -> web.Response:
        self.deny = set()
        return web.json_response({"denied": []})

    async def stats_view(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats)

    def _advance(self, batch_id: str) -> None:
        batch = self.batches[batch_id]
        number = self.order.index(batch_id) + 1
        status = batch["status"]
        if status == "validating":
            if number in self.fail:
                batch["status"] = "failed"
                batch["errors"] = {"object": "list", "data": [
                    {"code": "invalid_request", "message": "the fake refuses this batch",
                     "line": None}]}  # fmt: skip
                return
            batch["status"] = "in_progress"
        elif status == "in_progress":
            self._run(batch, half=number in self.expire)
            batch["status"] = "expired" if number in self.expire else "finalizing"
        elif status == "finalizing":
            batch["status"] = "completed"
        elif status == "cancelling":
            self._run(batch, none=True)
            batch["status"] = "cancelled"

    def _run(self, batch: dict, half: bool = False, none: bool = False) -> None:
        """Answer the batch's requests into an output and an error file."""
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]].decode().splitlines()]
        seen = set()
        output, errors = [], []
        for i, line in enumerate(lines):
            custom_id = line["custom_id"]
            assert custom_id not in seen, f"custom_id {custom_id} twice in one batch"
            seen.add(custom_id)
            if none or (half and i >= len(lines) // 2):
                error = {"code": "batch_expired" if half else "batch_cancelled",
                         "message": "This request could not be executed before the completion window expired."}  # fmt: skip
                errors.append({"id": f"req_{i}", "custom_id": custom_id, "response": None,
                               "error": error})  # fmt: skip
                continue
            self.answered += 1
            if self.errors_every and self.answered % self.errors_every == 0:
                errors.append({"id": f"req_{i}", "custom_id": custom_id, "error": None,
                               "response": {"status_code": 500, "request_id": f"r{i}",
                                            "body": {"error": {"message": "boom"}}}})  # fmt: skip
                continue
            body = self.answer(line["body"])
            if self.malformed_every and self.answered % self.malformed_every == 0:
                body = "this is no chat completion"
            output.append({"id": f"req_{i}", "custom_id": custom_id, "error": None,
                           "response": {"status_code": 200, "request_id": f"r{i}", "body": body}})  # fmt: skip
        done = len(output)
        batch["request_counts"] = {"total": len(lines), "completed": done,
                                   "failed": len(errors)}  # fmt: skip
        for kind, rows in (("output_file_id", output), ("error_file_id", errors)):
            if rows:
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[kind] = file_id


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error"}},
                             status=status)  # fmt: skip
