"""What a Batch API result line says, and how a wave is cut into files."""

import json

from glanc.execute.backends import batch_lines as lines


def line(**fields) -> str:
    return json.dumps({"id": "r1", "custom_id": "k1", "response": None, "error": None, **fields})


COMPLETION = {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}], "usage": {}}


def test_a_reply_a_resend_or_a_failure():
    ok = lines.read(line(response={"status_code": 200, "request_id": "x", "body": COMPLETION}))
    assert ok.kind == "reply" and ok.completion == COMPLETION
    busy = lines.read(line(response={"status_code": 429, "body": {"error": {"message": "slow"}}}))
    assert busy.kind == "resend" and busy.why == 'HTTP 429: {"message": "slow"}'
    expired = lines.read(line(error={"code": "batch_expired", "message": "window over"}))
    assert (expired.kind, expired.why) == ("resend", "batch_expired: window over")
    refused = lines.read(line(response={"status_code": 400, "body": {"error": {"message": "no"}}}))
    assert (refused.kind, refused.why) == ("fail", 'batch: HTTP 400: {"message": "no"}')
    assert lines.read(line()).why == "batch: a result line with neither a response nor an error"
    garbled = lines.read(line(response={"status_code": 200, "body": "text"}))
    assert garbled.kind == "fail" and "not a chat completion" in garbled.why
    cut = line(response={"status_code": 200, "body": COMPLETION})[:40]
    assert lines.read(cut).why == "transport: malformed batch output line (not JSON)"
    assert lines.custom_id(cut) == "k1" and lines.custom_id("[]") is None


def test_chunks_keep_the_caps_and_sort_by_key():
    pairs = [(f"k{i}", b"x" * 10) for i in (3, 1, 2, 5, 4)]
    assert [[k for k, _ in c] for c in lines.chunks(pairs, 2, 10**6)] == [
        ["k1", "k2"], ["k3", "k4"], ["k5"]]
    assert [len(c) for c in lines.chunks(pairs, 50, 25)] == [2, 2, 1]
    assert lines.chunks([("big", b"x" * 100)], 50, 10) == [[("big", b"x" * 100)]]  # never empty


def test_a_request_line_is_openai_batch_jsonl():
    out = json.loads(lines.request_line("k", {"model": "m", "messages": []}))
    assert out == {"custom_id": "k", "method": "POST", "url": "/v1/chat/completions",
                   "body": {"model": "m", "messages": []}}
