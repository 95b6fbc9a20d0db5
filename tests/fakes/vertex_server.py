"""A local server speaking Vertex AI's wire: OAuth tokens, Gemini and Claude publisher paths.

- `POST /token`: Google's OAuth token endpoint for a service account (the JWT-bearer grant).
  The assertion must be an RS256 JWT signed by the test service account's private key (made
  fresh for each run, never stored), issued by its email, for Google's token audience and the
  cloud-platform scope, unexpired; the answer is a new access token. Anything else is 400
  `invalid_grant`.
- Every other request needs one of the issued tokens as `Authorization: Bearer` (else 401 in
  Google's error shape).
- `/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:...` —
  `generateContent`, `streamGenerateContent` (SSE), `embedContent`, `predict` (text embeddings)
  — answered by the Gemini fake's logic; `GET /v1/publishers/google/models` lists them.
- `.../publishers/anthropic/models/{model}:rawPredict` and `:streamRawPredict`: the Messages
  body without `model` and with an `anthropic_version` in the body (Vertex documents
  `vertex-2023-10-16`; the installed SDK sends its own API version), answered by the Anthropic
  fake's logic.
A wrong project or location is a 404, as Vertex answers. Faults (FakeServer.faults) apply to
the model calls, not to the token endpoint, and answer in Google's error shape.
"""

import base64
import dataclasses
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from providers.adapters.types import ProviderSettings
from tests.fakes.anthropic_server import AnthropicFakeServer
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest
from tests.fakes.gemini_server import GeminiFakeServer, google_error

PROJECT = "test-project-123"
LOCATION = "us-central1"
CLIENT_EMAIL = f"vertex-test@{PROJECT}.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
CLAUDE_MODELS = ("claude-sonnet-4-5@20250929", "claude-haiku-4-5@20251001")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VertexFakeServer(FakeServer):
    name = "vertex-fake"

    def __init__(self) -> None:
        super().__init__()
        self.gemini = GeminiFakeServer()  # never started: its handlers answer Gemini paths
        self.claude = AnthropicFakeServer()  # likewise for Claude
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._tokens = itertools.count(1)
        self._defaults()

    def _defaults(self) -> None:
        self.project = PROJECT
        self.location = LOCATION
        self.issued: list[str] = []
        self.token_requests = 0
        self.gemini.models = [*self.gemini.models, "text-embedding-005"]
        self.claude.models = list(CLAUDE_MODELS)

    def reset(self) -> None:
        super().reset()
        self.gemini.reset()
        self.claude.reset()
        self._defaults()

    # -- the test service account ------------------------------------------------------------
    def private_key_pem(self) -> str:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def service_account_json(self, **overrides: Any) -> str:
        info = {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": self.private_key_pem(),
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": f"{self.url}/token",
        }
        info.update(overrides)
        return json.dumps(info)

    def provider_settings(self, kind: str = "vertex", **overrides: Any) -> ProviderSettings:
        settings = ProviderSettings(
            kind=kind,
            slug="vertex-fake",
            base_url=self.url,
            credentials={
                "project_id": self.project,
                "location": self.location,
                "service_account_json": self.service_account_json(),
            },
            timeout=5.0,
            max_retries=0,
            version="1",
        )
        return dataclasses.replace(settings, **overrides)

    # -- wire --------------------------------------------------------------------------------
    def error_body(self, status: int, code: str | None) -> Any:
        return google_error(status, f"fake Vertex error {status}")

    def _next_faults(self, request: RecordedRequest) -> Any:
        if request.path == "/token":  # faults are for model calls
            with self._lock:
                self.requests.append(request)
            return None
        return super()._next_faults(request)

    def route(self, request: RecordedRequest) -> FakeResponse:
        if request.path == "/token" and request.method == "POST":
            return self._token(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.issued:
            return FakeResponse(
                401,
                google_error(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential.",
                ),
            )
        if request.method == "GET" and request.path == "/v1/publishers/google/models":
            return self._list_models(request)
        prefix = f"/v1/projects/{self.project}/locations/{self.location}/publishers/"
        if not request.path.startswith(prefix):
            return FakeResponse(404, google_error(404, f"Unknown path {request.path}."))
        publisher, _, rest = request.path[len(prefix) :].partition("/models/")
        model, _, method = rest.partition(":")
        body = request.body if isinstance(request.body, dict) else {}
        if publisher == "google" and request.method == "POST":
            return self._google(model, method, body)
        if publisher == "anthropic" and request.method == "POST":
            return self._anthropic(model, method, body)
        return FakeResponse(404, google_error(404, f"Unknown path {request.path}."))

    def _token(self, request: RecordedRequest) -> FakeResponse:
        self.token_requests += 1
        form = parse_qs(request.body if isinstance(request.body, str) else "")
        # google-auth always addresses the assertion to Google's token endpoint, as Google
        # requires, wherever token_uri sends it.
        problem = self._assertion_problem(form, "https://oauth2.googleapis.com/token")
        if problem:
            return FakeResponse(400, {"error": "invalid_grant", "error_description": problem})
        token = f"ya29.fake-vertex-token-{next(self._tokens):04d}-abcdefghijklmnop"
        self.issued.append(token)
        return FakeResponse(
            200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
        )

    def _assertion_problem(self, form: dict[str, list[str]], audience: str) -> str | None:
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return "Unsupported grant type."
        try:
            header, payload, signature = form["assertion"][0].split(".")
            self._key.public_key().verify(
                _b64url_decode(signature),
                f"{header}.{payload}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            claims = json.loads(_b64url_decode(payload))
        except Exception:
            return "Invalid JWT Signature."
        if json.loads(_b64url_decode(header)).get("alg") != "RS256":
            return "Invalid JWT algorithm."
        if claims.get("iss") != CLIENT_EMAIL or claims.get("aud") != audience:
            return "Invalid JWT: wrong issuer or audience."
        if SCOPE not in str(claims.get("scope", "")).split():
            return "Invalid JWT: no cloud-platform scope."
        if not claims.get("exp") or claims["exp"] < time.time():
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
        return None

    # -- Gemini ------------------------------------------------------------------------------
    def _google(self, model: str, method: str, body: dict[str, Any]) -> FakeResponse:
        if model not in self.gemini.models:
            return FakeResponse(
                404,
                google_error(
                    404,
                    f"Publisher Model `projects/{self.project}/locations/{self.location}/"
                    f"publishers/google/models/{model}` was not found or your project does "
                    "not have access to it.",
                ),
            )
        handlers = {
            "generateContent": self.gemini._generate,
            "streamGenerateContent": self.gemini._stream,
            "embedContent": self.gemini._embed_one,
            "batchEmbedContents": self.gemini._embed_batch,
            "predict": self._predict,
        }
        handler = handlers.get(method)
        if handler is None:
            return FakeResponse(404, google_error(404, f"Unknown method {method}."))
        if method == "batchEmbedContents":  # Vertex names the model in the URL only
            requests = [
                {**item, "model": f"models/{model}"}
                for item in body.get("requests") or ()
                if isinstance(item, dict)
            ]
            body = {**body, "requests": requests}
        return handler(model, body)

    def _predict(self, model: str, body: dict[str, Any]) -> FakeResponse:
        """Vertex text embeddings: {"instances": [{"content"}]} -> predictions with statistics."""
        instances = body.get("instances")
        if not isinstance(instances, list) or not instances:
            return FakeResponse(400, google_error(400, "instances are required."))
        dimensions = (body.get("parameters") or {}).get("outputDimensionality")
        from tests.fakes.gemini_server import _vector

        predictions = [
            {
                "embeddings": {
                    "values": _vector(str(item.get("content", "")), dimensions),
                    "statistics": {
                        "token_count": len(str(item.get("content", "")).split()),
                        "truncated": False,
                    },
                }
            }
            for item in instances
        ]
        return FakeResponse(
            200, {"predictions": predictions, "metadata": {"billableCharacterCount": 10}}
        )

    def _list_models(self, request: RecordedRequest) -> FakeResponse:
        models = [
            {"name": f"publishers/google/models/{model}", "versionId": "001"}
            for model in self.gemini.models
        ]
        return FakeResponse(200, {"publisherModels": models})

    # -- Claude ------------------------------------------------------------------------------
    def _anthropic(self, model: str, method: str, body: dict[str, Any]) -> FakeResponse:
        if model not in self.claude.models:
            return FakeResponse(
                404,
                google_error(404, f"Publisher Model `{model}` was not found."),
            )
        if method not in ("rawPredict", "streamRawPredict"):
            return FakeResponse(404, google_error(404, f"Unknown method {method}."))
        if "model" in body or not isinstance(body.get("anthropic_version"), str):
            return FakeResponse(
                400,
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "message": "anthropic_version is required; the model goes in the URL.",
                    },
                },
            )
        if bool(body.get("stream")) != (method == "streamRawPredict"):
            return FakeResponse(400, google_error(400, "stream does not match the method."))
        return self.claude._messages({**body, "model": model})


@pytest.fixture(scope="session")
def vertex_fake_server() -> Iterator[VertexFakeServer]:
    server = cast(VertexFakeServer, VertexFakeServer().start())
    yield server
    server.stop()


@pytest.fixture
def vertex_fake(vertex_fake_server: VertexFakeServer) -> VertexFakeServer:
    vertex_fake_server.reset()
    return vertex_fake_server
