"""Content negotiation for the streaming endpoints.

Clients of server-sent events (EventSource, many HTTP and JavaScript libraries) send
`Accept: text/event-stream`. DRF's default negotiation knows only the JSON renderer and
answers 406 before the view runs. Here a request that accepts an event stream is served: a
stream answers as `text/event-stream` (the view returns it itself), while a JSON answer or an
error (which comes before any stream starts) is rendered as JSON, as OpenAI's API does.
"""

from collections.abc import Iterable
from typing import Any

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

EVENT_STREAM = "text/event-stream"
# Accept headers that DRF's negotiation always answers with a JSON first renderer: most API
# clients send one of these or none (an empty header is DRF's 406). Answered without parsing
# media ranges, which cost about as much as the rest of DRF's request handling together.
_JSON_ACCEPTS = frozenset({"*/*", "application/json"})


def negotiates_json_directly(request: Any) -> bool:
    """No `?format=` override and an Accept header of JSON or none: answered with the first
    (JSON) renderer without parsing media ranges."""
    accept = request.META.get("HTTP_ACCEPT")
    return not request.META.get("QUERY_STRING") and (
        accept is None or accept.strip() in _JSON_ACCEPTS
    )


def accepts_event_stream(request: Request) -> bool:
    """Whether the Accept header names text/event-stream (with or without parameters)."""
    accept = request.META.get("HTTP_ACCEPT", "")
    return any(part.split(";", 1)[0].strip().lower() == EVENT_STREAM for part in accept.split(","))


class EventStreamNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, except that accepting an event stream is never a 406."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: Any = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        if (
            format_suffix is None
            and negotiates_json_directly(request)
            and renderers
            and renderers[0].media_type == "application/json"
        ):
            return renderers[0], renderers[0].media_type
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            if not accepts_event_stream(request):
                raise
            renderer = next(iter(renderers))
            return renderer, renderer.media_type
