"""POST /v1/responses, GET and DELETE /v1/responses/{id}: thin views over the services.

They share /v1's base view: consumer-key authentication, the model check, x-request-id and
OpenAI's error shape.
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from chat.http import SSEBody, sse_response
from chat.responses_api.parsing import responses_request_parse
from chat.responses_api.selectors import stored_response_get
from chat.responses_api.services import (
    response_create,
    response_prepare,
    response_stream_open,
    stored_response_delete,
)
from chat.responses_api.streaming import response_events
from chat.v1.views import V1View, served_headers


class ResponsesView(V1View):
    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        description="OpenAI's Responses API: a Response object, or its events with stream=true.",
    )
    def post(self, request: Request) -> Any:
        parsed = responses_request_parse(request.data)
        self.check_model(parsed.model)
        call = response_prepare(
            request=parsed, api_key_id=self.identity.key_id, owner_id=self.identity.owner_id
        )
        if not parsed.stream:
            body, result = response_create(call=call, context=self.context())
            return Response(body, headers=served_headers(result.served_by))
        stream = response_stream_open(call=call, context=self.context())
        return sse_response(
            SSEBody(response_events(stream), stream.close), served_headers(stream.served_by)
        )


class ResponseDetailView(V1View):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, response_id: str) -> Response:
        """A stored response of this key, as it was returned."""
        stored = stored_response_get(response_id=response_id, api_key_id=self.identity.key_id)
        return Response(stored.response)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def delete(self, request: Request, response_id: str) -> Response:
        """Forget a stored response: it can no longer be retrieved or continued."""
        stored_response_delete(response_id=response_id, api_key_id=self.identity.key_id)
        return Response({"id": response_id, "object": "response", "deleted": True})
