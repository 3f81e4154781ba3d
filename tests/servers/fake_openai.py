"""A fake OpenAI-compatible chat server for tests and benchmarks.

It answers ``POST /v1/chat/completions`` with JSON that satisfies the request's
response schema, derived from a hash of the request (the same request always
gets the same answer, as from glanc's stub model), after ``--latency-ms``.
``--fault-rate`` makes that share of requests fail instead, drawn from a mix:
429 with Retry-After, 500, a stall past the client's timeout, a response body
cut short, a body that is not JSON, empty ``choices``, a dropped connection, a
reply cut at max_tokens (``cut``: ``finish_reason: length``, half the JSON).
A plain-text request (glanc's default template) is answered in the shape of its
example turn; ``--bad-every N`` makes every Nth of those a refusal, per stage.
``--jitter-ms`` shuffles the order replies come back in, ``--constant question``
makes every question the same (answer nodes then share keys), ``--hang-after N``
stalls every request after N good answers (to kill a build at a known point).
The OpenAI Batch API is served beside it (``fake_batch.py``): batched requests
get the very answers direct ones do.

    python tests/servers/fake_openai.py --port 8000 --latency-ms 100 --fault-rate 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import sys
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from glanc.lm.stub import _fake, _mimic  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_batch import FakeBatches  # noqa: E402

REFUSAL = "I cannot answer that question without more information"

TRANSPORT_FAULTS = ("429", "500", "stall", "truncated", "not_json", "empty_choices", "drop")
FAULTS = (*TRANSPORT_FAULTS, "cut")  # "cut" is the model's: not in the default mix


def schema_of(body: dict) -> dict:
    """The response schema: from ``response_format`` when the client sends one, else
    read from the output fields a DSPy JSONAdapter prompt lists (a string unless
    the prompt gives the field's JSON schema)."""
    fmt = body.get("response_format") or {}
    given = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema")
    if given:
        return given
    system = " ".join(
        str(m.get("content", "")) for m in body.get("messages") or [] if m.get("role") == "system"
    )
    listed = system.split("Your output fields are:", 1)[-1].split("All interactions", 1)[0]
    props = {}
    for name in re.findall(r"\d+\. `(\w+)`", listed):
        # the JSON template line: "name": "{name}   # note: ... JSON schema: {...}"
        line = re.search(rf'"{name}": ("(?:[^"\\]|\\.)*")', system)
        text = json.loads(line.group(1)) if line else ""
        marker = "adhere to the JSON schema: "
        props[name] = json.loads(text.split(marker, 1)[1]) if marker in text else {"type": "string"}
    return {"type": "object", "properties": props}


def plain_example(body: dict) -> str | None:
    """A plain-text request's example reply (its last assistant turn), if it has one."""
    if body.get("response_format"):
        return None
    turns = [m for m in body.get("messages") or [] if m.get("role") == "assistant"]
    return str(turns[-1].get("content", "")) if turns else None


def answer(body: dict, constant: tuple[str, ...] = ()) -> tuple[str, int, int]:
    seed_text = json.dumps([body.get("messages"), body.get("seed")], sort_keys=True)
    seed = hashlib.sha256(seed_text.encode()).hexdigest()
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
    example = plain_example(body)
    if example is not None:  # glanc's plain-text stages: a reply in the example's shape
        text = _mimic(example, str((body.get("messages") or [{}])[-1].get("content", "")), seed)
        return text, prompt, len(text.split())
    schema = schema_of(body)
    if schema.get("type") == "object" and "properties" in schema and "$defs" not in schema:
        # each field's schema is its own root: its $refs point into its own $defs
        value = {
            name: _fake(sub, sub, hashlib.sha256(f"{seed}/{name}".encode()).hexdigest(), name)
            for name, sub in schema["properties"].items()
        }
    else:
        value = _fake(schema, schema, seed, "value")
    for name in constant:  # every request gets the same value: nodes below share keys
        if isinstance(value, dict) and name in value:
            value[name] = f"the same {name} for everyone"
    text = json.dumps(value)
    return text, prompt, len(text.split())


def body_digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def chat_completion(body: dict, text: str, prompt: int, completion: int, finish: str = "stop") -> dict:
    return {
        "id": "fake",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    }


class Server:
    def __init__(
        self,
        latency_ms: float,
        fault_rate: float,
        stall_s: float,
        seed: int,
        faults: tuple[str, ...] = TRANSPORT_FAULTS,
        jitter_ms: float = 0,
        constant: tuple[str, ...] = (),
        hang_after: int | None = None,
        bad_every: int | None = None,
    ):
        self.bad_every = bad_every  # every Nth plain-text reply of each stage is a refusal
        self.plain: dict[str, int] = {}  # plain-text requests so far, per example (stage)
        self.faults = faults
        self.jitter = jitter_ms / 1000
        self.constant = constant
        self.hang_after = hang_after  # good answers, after which every request hangs
        self.latency = latency_ms / 1000
        self.fault_rate = fault_rate
        self.stall = stall_s
        self.rng = random.Random(seed)
        self.counts: dict[str, int] = {"ok": 0, **{f: 0 for f in FAULTS}}
        self.shapes: dict[str, int] = {}  # what requests asked for: response_format type, max_tokens
        self.answered: list[float] = []  # when each good answer was sent (monotonic seconds)
        self.bodies: list[str] = []  # a digest of each chat request's body, as sent

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body_digest(body))
        auth = request.headers.get("Authorization", "")
        parts = [
            f"response_format={(body.get('response_format') or {}).get('type', 'none')}",
            f"max_tokens={'set' if 'max_tokens' in body else 'unset'}",
        ]
        if auth:  # the scheme and credentials, for tests of what glanc sends
            parts.append(f"auth={auth}")
        for part in parts:
            self.shapes[part] = self.shapes.get(part, 0) + 1
        fault = self.rng.choice(self.faults) if self.rng.random() < self.fault_rate else None
        self.counts[fault or "ok"] += 1
        if self.hang_after is not None and self.counts["ok"] > self.hang_after:
            await asyncio.sleep(3600)
        # jitter: replies come back in an order unlike the order of the requests
        jitter = self.rng.random() * self.jitter if self.jitter else 0.0
        await asyncio.sleep(self.latency + jitter)
        if fault == "429":
            return web.json_response(
                {"error": {"message": "rate limited", "type": "rate_limit"}},
                status=429,
                headers={"Retry-After": "0.2"},
            )
        if fault == "500":
            return web.json_response({"error": {"message": "boom"}}, status=500)
        if fault == "stall":
            await asyncio.sleep(self.stall)
        if fault == "drop":
            request.transport.close()
            return web.Response(status=500)
        text, prompt, completion = answer(body, self.constant)
        example = plain_example(body)
        if self.bad_every and example is not None:
            self.plain[example] = self.plain.get(example, 0) + 1
            if self.plain[example] % self.bad_every == 0:
                text = REFUSAL
        if fault == "cut":  # max_tokens reached: the JSON stops halfway
            text = text[: len(text) // 2]
        payload = chat_completion(body, text, prompt, completion, "length" if fault == "cut" else "stop")
        if fault == "empty_choices":
            payload["choices"] = []
        raw = json.dumps(payload)
        if fault == "truncated":
            raw = raw[: len(raw) // 2]
        if fault == "not_json":
            raw = "<html>502 Bad Gateway</html>"
        if fault is None:
            self.answered.append(time.monotonic())
        return web.Response(text=raw, content_type="application/json")

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.counts)

    async def requests(self, request: web.Request) -> web.Response:
        return web.json_response(self.shapes)

    async def times(self, request: web.Request) -> web.Response:
        """The answer times since the last call, for steady-state throughput."""
        times, self.answered = self.answered, []
        return web.json_response(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--fault-rate", type=float, default=0)
    parser.add_argument("--stall-s", type=float, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", default=",".join(TRANSPORT_FAULTS), help="the fault mix, comma-separated")
    parser.add_argument("--jitter-ms", type=float, default=0, help="random extra latency")
    parser.add_argument("--constant", default="", help="output fields answered the same always")
    parser.add_argument("--hang-after", type=int, help="hang every request after N good answers")
    parser.add_argument("--bad-every", type=int, help="every Nth plain-text reply of a stage: a refusal")
    parser.add_argument("--batch-steps", type=int, default=1, help="status checks per batch status")
    parser.add_argument("--batch-fail", default="", help="batch numbers that fail validation")
    parser.add_argument("--batch-expire", default="", help="batch numbers that expire half done")
    parser.add_argument("--batch-malformed", type=int, help="every Kth batch output line malformed")
    parser.add_argument("--batch-errors", type=int, help="every Kth batch request a 500")
    parser.add_argument("--batch-lose-create", default="", help="batch numbers made, reply lost")
    parser.add_argument("--batch-deny", default="", help="batch numbers whose checks get a 403")
    a = parser.parse_args()
    faults = tuple(f for f in a.faults.split(",") if f)
    constant = tuple(f for f in a.constant.split(",") if f)
    server = Server(
        a.latency_ms,
        a.fault_rate,
        a.stall_s,
        a.seed,
        faults,
        a.jitter_ms,
        constant,
        a.hang_after,
        a.bad_every,
    )
    app = web.Application(client_max_size=256 * 1024 * 1024)
    numbers = lambda text: tuple(int(x) for x in text.split(",") if x)  # noqa: E731
    batches = FakeBatches(
        lambda body: chat_completion(body, *answer(body, constant)),
        a.batch_steps,
        numbers(a.batch_fail),
        numbers(a.batch_expire),
        a.batch_malformed,
        a.batch_errors,
        numbers(a.batch_lose_create),
        numbers(a.batch_deny),
    )
    batches.routes(app)

    async def bodies(request: web.Request) -> web.Response:
        """Digests of the request bodies sent, directly and in batch files."""
        return web.json_response({"chat": sorted(server.bodies), "batch": sorted(batches.bodies)})

    app.router.add_get("/bodies", bodies)
    app.router.add_post("/v1/chat/completions", server.chat)
    app.router.add_get("/stats", server.stats)
    app.router.add_get("/requests", server.requests)
    app.router.add_get("/times", server.times)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=a.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
