"""A local server speaking Amazon Bedrock's wire for Claude, checking AWS SigV4 signatures.

- Every request must be signed with AWS Signature Version 4 by the test credentials
  (`ACCESS_KEY_ID` / `SECRET_ACCESS_KEY`, optionally a session token), for the service
  `bedrock` and the fake's region: the fake recomputes the signature with botocore's own
  canonical request and signing-key code over the headers the client listed as signed, the
  raw path and query, and the exact body bytes, and compares. Anything else is a 403
  `UnrecognizedClientException` / `InvalidSignatureException` as Bedrock answers.
- `POST /model/{modelId}/invoke`: the Messages body without `model` (it is in the path) and
  with `anthropic_version`; answered by the Anthropic fake's logic.
- `POST /model/{modelId}/invoke-with-response-stream`: the same events, each sent as an AWS
  event-stream message (`:event-type chunk`, payload `{"bytes": base64(event JSON)}`).
- `GET /foundation-models?byProvider=...`: the control plane's model list.
Errors answer `{"message"}` with an `x-amzn-ErrorType` header, as Bedrock does.
"""

import base64
import binascii
import dataclasses
import json
import struct
from collections.abc import Iterable, Iterator
from typing import Any, cast
from urllib.parse import unquote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from providers.adapters.types import ProviderSettings
from tests.fakes.anthropic_server import AnthropicFakeServer
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

ACCESS_KEY_ID = "AKIAFAKEBEDROCK00001"
SECRET_ACCESS_KEY = "fake/Bedrock+Secret0123456789abcdefghijkl"
REGION = "us-east-1"
CLAUDE_MODELS = (
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
)
ERROR_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def event_stream_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude (total and headers lengths) and its CRC32,
    string-typed headers, the payload, and the CRC32 of everything before it."""
    encoded = b"".join(
        struct.pack("B", len(name))
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value))
        + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def _chunks(sse_events: Iterable[bytes]) -> Iterator[bytes]:
    """The Anthropic fake's SSE events re-framed as Bedrock `chunk` events."""
    for raw in sse_events:
        for line in raw.decode().splitlines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ").encode()
                payload = json.dumps({"bytes": base64.b64encode(data).decode()}).encode()
                yield event_stream_message(
                    {
                        ":event-type": "chunk",
                        ":content-type": "application/json",
                        ":message-type": "event",
                    },
                    payload,
                )


class BedrockFakeServer(FakeServer):
    name = "bedrock-fake"

    def __init__(self) -> None:
        super().__init__()
        self.claude = AnthropicFakeServer()  # never started: its logic answers
        self._defaults()

    def _defaults(self) -> None:
        self.access_key_id = ACCESS_KEY_ID
        self.secret_access_key = SECRET_ACCESS_KEY
        self.session_token: str | None = None
        self.region = REGION
        self.claude.models = list(CLAUDE_MODELS)
        self.signatures_checked = 0

    def reset(self) -> None:
        super().reset()
        self.claude.reset()
        self._defaults()

    def provider_settings(self, kind: str = "bedrock", **overrides: Any) -> ProviderSettings:
        credentials = {
            "region": self.region,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
        }
        if self.session_token:
            credentials["aws_session_token"] = self.session_token
        settings = ProviderSettings(
            kind=kind,
            slug="bedrock-fake",
            base_url=self.url,
            credentials=credentials,
            timeout=5.0,
            max_retries=0,
            version="1",
        )
        return dataclasses.replace(settings, **overrides)

    # -- wire --------------------------------------------------------------------------------
    def _error(self, status: int, message: str, error_type: str | None = None) -> FakeResponse:
        kind = error_type or ERROR_TYPES.get(status, "InternalServerException")
        return FakeResponse(
            status,
            {"message": message},
            headers={
                "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/",
                "x-amzn-RequestId": "bedrock-req-1",
            },
        )

    def error_body(self, status: int, code: str | None) -> Any:
        return {"message": f"fake Bedrock error {status}"}

    def signature_problem(self, request: RecordedRequest) -> str | None:
        """Why the request's SigV4 signature is not the test credentials', or None."""
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return "Missing Authentication Token"
        fields = dict(
            part.strip().split("=", 1) for part in authorization[17:].split(",") if "=" in part
        )
        scope = fields.get("Credential", "").split("/")
        if len(scope) != 5 or scope[0] != self.access_key_id:
            return "The security token included in the request is invalid."
        if scope[2:] != [self.region, "bedrock", "aws4_request"]:
            return "Credential should be scoped to a valid region and service."
        if request.headers.get("x-amz-security-token") != self.session_token:
            return "The security token included in the request is invalid."
        signed = fields.get("SignedHeaders", "").split(";")
        headers = {name: request.headers.get(name, "") for name in signed}
        query = f"?{request.raw_query}" if request.raw_query else ""
        aws_request = AWSRequest(
            method=request.method,
            url=f"http://{headers.get('host', '')}{request.path}{query}",
            headers=headers,
            data=request.raw,
        )
        aws_request.context["timestamp"] = request.headers.get("x-amz-date", "")
        signer = SigV4Auth(
            Credentials(self.access_key_id, self.secret_access_key, self.session_token),
            "bedrock",
            self.region,
        )
        canonical = signer.canonical_request(aws_request)
        expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
        self.signatures_checked += 1
        if expected != fields.get("Signature"):
            return (
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method."
            )
        return None

    def route(self, request: RecordedRequest) -> FakeResponse:
        problem = self.signature_problem(request)
        if problem:
            return self._error(403, problem, "InvalidSignatureException")
        if request.method == "GET" and request.path == "/foundation-models":
            return self._foundation_models()
        parts = request.path.split("/")
        if request.method != "POST" or len(parts) != 4 or parts[1] != "model":
            return self._error(404, f"Unknown operation {request.method} {request.path}.")
        model, operation = unquote(parts[2]), parts[3]
        if operation not in ("invoke", "invoke-with-response-stream"):
            return self._error(404, f"Unknown operation {operation}.")
        if model not in self.claude.models:
            return self._error(400, "The provided model identifier is invalid.")
        body = request.body if isinstance(request.body, dict) else {}
        if "model" in body or not isinstance(body.get("anthropic_version"), str):
            return self._error(400, "Malformed input request: anthropic_version is required.")
        stream = operation == "invoke-with-response-stream"
        answer = self.claude._messages({**body, "model": model, "stream": stream})
        if answer.status != 200 or not stream:
            return answer
        return FakeResponse(
            headers={
                **answer.headers,
                "Content-Type": "application/vnd.amazon.eventstream",
                "x-amzn-bedrock-content-type": "application/json",
            },
            events=_chunks(answer.events or ()),
        )

    def _foundation_models(self) -> FakeResponse:
        summaries = [
            {
                "modelId": model,
                "modelName": model.split(".")[-1].split("-v")[0],
                "providerName": "Anthropic",
                "outputModalities": ["TEXT"],
            }
            for model in self.claude.models
        ]
        return FakeResponse(200, {"modelSummaries": summaries})


@pytest.fixture(scope="session")
def bedrock_fake_server() -> Iterator[BedrockFakeServer]:
    server = cast(BedrockFakeServer, BedrockFakeServer().start())
    yield server
    server.stop()


@pytest.fixture
def bedrock_fake(bedrock_fake_server: BedrockFakeServer) -> BedrockFakeServer:
    bedrock_fake_server.reset()
    return bedrock_fake_server
