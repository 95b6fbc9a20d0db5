"""JSON bodies and server-sent events of the call endpoints (chat/http.py)."""

import json

from chat.http import json_bytes, json_response, sse_event


def test_json_is_compact_utf8_as_drf_renders_it():
    data = {"text": "héllo ✓", "n": [1, 2.5, None, True], "nested": {"a": "b"}}
    body = json_bytes(data)
    assert body == json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    response = json_response(data, {"x-served-model": "m"})
    assert response["Content-Type"] == "application/json"
    assert response["x-served-model"] == "m"
    assert json.loads(response.content) == data


def test_what_orjson_refuses_is_still_encoded():
    # A lone surrogate relayed from a provider, an integer beyond 64 bits: escaped by json.
    for data in ({"text": "a\ud800b"}, {"n": 2**70}):
        assert json.loads(json_bytes(data)) == data


def test_server_sent_events():
    assert sse_event({"a": "é"}) == 'data: {"a":"é"}\n\n'.encode()
    assert sse_event("[DONE]") == b"data: [DONE]\n\n"
    assert sse_event({"type": "x"}, event="x") == b'event: x\ndata: {"type":"x"}\n\n'
