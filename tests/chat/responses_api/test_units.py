"""The pieces without a server: input items -> messages, stored conversations, and the
streamed output items (text after a tool call, a call whose id or name arrives late)."""

import json

import pytest

from chat.responses_api.conversation import (
    conversation_dump,
    conversation_load,
    output_message,
    tool_names_filled,
)
from chat.responses_api.parsing import responses_request_parse
from chat.responses_api.rendering import output_items
from chat.responses_api.streaming import _Output
from providers.adapters.types import (
    ChatResponse,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
)

IMAGE = "data:image/png;base64,iVBORw0KGgo="


def test_input_items_become_chat_messages():
    parsed = responses_request_parse(
        {
            "model": "svc",
            "input": [
                {"role": "developer", "content": "be brief"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "what is "},
                        {"type": "input_image", "image_url": IMAGE, "detail": "low"},
                    ],
                },
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [
                        {"type": "output_text", "text": "Let me look. "},
                        {"type": "refusal", "refusal": "(no)"},
                    ],
                },
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "one"},
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": [
                        {"type": "input_text", "text": "t"},
                        {"type": "input_text", "text": "wo"},
                    ],
                },
                {"type": "function_call", "call_id": "c3", "name": "f"},
            ],
        }
    )
    system, user, assistant, first, second, lone = parsed.chat.messages
    assert system == Message(role="system", content="be brief")
    assert user.content == (TextPart("what is "), ImagePart(url=IMAGE, detail="low"))
    assert assistant.content == "Let me look. (no)"
    assert [c.id for c in assistant.tool_calls] == ["c1", "c2"]
    assert (first.role, first.tool_call_id, first.content) == ("tool", "c1", "one")
    assert second.content == "two"
    assert lone == Message(role="assistant", tool_calls=(ToolCall("c3", "f", "{}"),))


def test_options_map_to_the_chat_request_and_are_echoed():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    parsed = responses_request_parse(
        {
            "model": " svc ",
            "input": "hi",
            "instructions": "sys",
            "tools": [{"type": "function", "name": "f"}],
            "tool_choice": {"type": "function", "name": "f"},
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "a",
                    "schema": schema,
                    "strict": True,
                    "description": "d",
                },
                "verbosity": "low",
            },
            "max_output_tokens": 50,
            "temperature": 0.5,
            "top_p": 1,
            "truncation": "auto",
            "metadata": {"k": "v"},
            "parallel_tool_calls": False,
            "user": "u-1",
            "include": ["reasoning.encrypted_content"],
            "reasoning": {"effort": "low"},
            "background": False,
        }
    )
    chat = parsed.chat
    assert chat.model == "svc" and chat.max_tokens == 50 and chat.temperature == 0.5
    assert chat.tools[0].name == "f" and chat.tools[0].parameters["type"] == "object"
    assert chat.tool_choice == ToolChoice(mode="tool", name="f")
    assert chat.json_output and chat.json_schema == schema
    assert parsed.text_format["strict"] is True and parsed.text_format["description"] == "d"
    assert parsed.tool_choice == {"type": "function", "name": "f"}
    assert parsed.tools[0]["description"] is None
    assert (parsed.instructions, parsed.truncation, parsed.user) == ("sys", "auto", "u-1")
    assert parsed.metadata == {"k": "v"} and parsed.parallel_tool_calls is False
    assert parsed.stream is False and parsed.store is True
    for fmt, expected in (
        ({"type": "text"}, False),
        (None, False),
        ({"type": "json_object"}, True),
    ):
        again = responses_request_parse({"model": "m", "input": "x", "text": {"format": fmt}})
        assert again.chat.json_output is expected and again.chat.json_schema is None


def test_stored_conversations_round_trip_and_name_tool_results():
    messages = (
        Message(role="user", content=(TextPart("see"), ImagePart(url=IMAGE))),
        Message(role="assistant", tool_calls=(ToolCall("c1", "lookup", '{"q": 1}'),)),
        Message(role="tool", content="found", tool_call_id="c1"),
    )
    filled = tool_names_filled(messages)
    assert filled[2].name == "lookup"
    data = json.loads(json.dumps(conversation_dump(filled)))
    assert conversation_load(data) == filled


def test_output_items_and_the_assistant_turn_they_make():
    reply = ChatResponse(
        text="Checking.",
        tool_calls=(ToolCall("", "f", "{}"),),
        finish_reason="tool_calls",
        usage=Usage(),
        model="m",
    )
    message, call = output_items(reply)
    assert message["content"][0]["text"] == "Checking." and message["status"] == "completed"
    assert call["call_id"].startswith("call_")  # a provider that gave no id gets one
    turn = output_message([message, call])
    assert turn.text == "Checking." and turn.tool_calls[0].id == call["call_id"]
    assert output_message([]) is None
    cut = output_items(
        ChatResponse(text="a b", tool_calls=(), finish_reason="length", usage=Usage(), model="m")
    )
    assert cut[0]["status"] == "incomplete"


def test_streamed_items_text_after_a_call_and_late_names():
    events: list[tuple[str, dict]] = []

    def emit(kind: str, **fields) -> bytes:
        events.append((kind, json.loads(json.dumps(fields))))
        return b""

    output = _Output(emit)
    for step in (
        output.text("Let me check."),
        output.tool_call(ToolCallDelta(index=0, arguments='{"q":')),
        output.tool_call(ToolCallDelta(index=0, name="lookup", arguments=' "x"}')),
        output.text("Done"),
        output.close("completed"),
    ):
        list(step)
    first, call, second = output.items
    assert first["content"][0]["text"] == "Let me check." and second["content"][0]["text"] == "Done"
    assert call["name"] == "lookup" and call["arguments"] == '{"q": "x"}'
    assert call["call_id"].startswith("call_") and call["status"] == "completed"
    kinds = [kind for kind, _ in events]
    assert kinds.count("response.output_item.added") == 3
    assert kinds.count("response.output_item.done") == 3
    added = [fields["output_index"] for kind, fields in events if kind.endswith("item.added")]
    assert added == [0, 1, 2]
    done = dict(
        (kind, fields) for kind, fields in events if kind == "response.function_call_arguments.done"
    )
    assert done["response.function_call_arguments.done"]["name"] == "lookup"


@pytest.mark.parametrize("value", [None, "", "x" * 65, 3])
def test_previous_response_id_must_be_a_short_string(value):
    body = {"model": "m", "input": "x", "previous_response_id": value}
    if value is None:
        assert responses_request_parse(body).previous_response_id is None
    else:
        with pytest.raises(Exception) as caught:
            responses_request_parse(body)
        assert caught.value.details == {"param": "previous_response_id"}
