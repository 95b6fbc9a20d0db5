"""A streamed response as the Responses API's server-sent events.

The order is OpenAI's: response.created, response.in_progress, then per output item
output_item.added, (content_part.added, output_text.delta..., output_text.done,
content_part.done) or (function_call_arguments.delta..., function_call_arguments.done),
output_item.done, and last response.completed (or response.incomplete when the output was cut
by max_output_tokens). Every event names its type in `event:` and carries a sequence_number.
An error after the first event ends the stream with an `error` event in OpenAI's shape.
"""

import copy
from collections.abc import Callable, Iterator
from typing import Any

from chat.http import sse_event, stream_error
from chat.responses_api.rendering import (
    function_call_item,
    message_item,
    new_id,
    status_for,
    text_part,
)
from chat.responses_api.services import ResponseStream
from chat.v1.errors import openai_error_from
from providers.adapters.types import TextDelta, ToolCallDelta

Emit = Callable[..., bytes]


class _Sequence:
    def __init__(self) -> None:
        self.number = 0

    def emit(self, kind: str, **fields: Any) -> bytes:
        event = sse_event({"type": kind, **fields, "sequence_number": self.number}, event=kind)
        self.number += 1
        return event


class _Output:
    """The output items as they stream: at most one message open at a time (text after a
    tool call opens a new one), and one function_call item per tool call index."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.items: list[dict[str, Any]] = []
        self._message: tuple[int, dict[str, Any]] | None = None
        self._text: list[str] = []
        self._calls: dict[int, int] = {}  # tool call index -> output index
        self._open_calls: list[int] = []

    def text(self, delta: str) -> Iterator[bytes]:
        if self._message is None:
            item = message_item(new_id("msg"), None, "in_progress")
            index = len(self.items)
            self.items.append(item)
            self._message, self._text = (index, item), []
            yield self.emit(
                "response.output_item.added", output_index=index, item=copy.deepcopy(item)
            )
            yield self.emit(
                "response.content_part.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=text_part(""),
            )
        index, item = self._message
        self._text.append(delta)
        yield self.emit(
            "response.output_text.delta",
            item_id=item["id"],
            output_index=index,
            content_index=0,
            delta=delta,
            logprobs=[],
        )

    def _message_close(self, status: str) -> Iterator[bytes]:
        if self._message is None:
            return
        index, item = self._message
        text = "".join(self._text)
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        yield self.emit("response.output_text.done", **where, text=text, logprobs=[])
        yield self.emit("response.content_part.done", **where, part=text_part(text))
        item.update(content=[text_part(text)], status=status)
        yield self.emit("response.output_item.done", output_index=index, item=item)
        self._message = None

    def tool_call(self, delta: ToolCallDelta) -> Iterator[bytes]:
        yield from self._message_close("completed")
        index = self._calls.get(delta.index)
        if index is None:
            item = function_call_item(
                new_id("fc"),
                call_id=delta.id or new_id("call"),
                name=delta.name or "",
                arguments="",
                status="in_progress",
            )
            index = self._calls[delta.index] = len(self.items)
            self.items.append(item)
            self._open_calls.append(index)
            yield self.emit("response.output_item.added", output_index=index, item=dict(item))
        item = self.items[index]
        if delta.name and not item["name"]:
            item["name"] = delta.name
        if delta.arguments:
            item["arguments"] += delta.arguments
            yield self.emit(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=index,
                delta=delta.arguments,
            )

    def close(self, status: str) -> Iterator[bytes]:
        yield from self._message_close(status)
        for index in self._open_calls:
            item = self.items[index]
            item["status"] = "completed"
            yield self.emit(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                name=item["name"],
                arguments=item["arguments"],
            )
            yield self.emit("response.output_item.done", output_index=index, item=item)
        self._open_calls = []


def response_events(stream: ResponseStream) -> Iterator[bytes]:
    """The events of `stream`; storing the response happens when it completes."""
    sequence = _Sequence()
    emit = sequence.emit
    yield emit("response.created", response=stream.snapshot("in_progress"))
    yield emit("response.in_progress", response=stream.snapshot("in_progress"))
    output = _Output(emit)
    try:
        for event in stream:
            if isinstance(event, TextDelta):
                if event.text:
                    yield from output.text(event.text)
            elif isinstance(event, ToolCallDelta):
                yield from output.tool_call(event)
        status = status_for(stream.finish_reason)
        yield from output.close(status)
        final = stream.complete(output=output.items)
    except Exception as exc:
        error = openai_error_from(stream_error(exc), request_id=stream.request_id)["error"]
        yield emit("error", code=error["code"], message=error["message"], param=error["param"])
        return
    kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
    yield emit(kind, response=final)
