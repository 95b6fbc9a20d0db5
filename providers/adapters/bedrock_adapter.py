"""The Amazon Bedrock adapter: Claude through the `anthropic` SDK's Bedrock client
(`anthropic.AnthropicBedrock`), requests signed with AWS SigV4 by botocore.

Only authentication and addressing differ from AnthropicAdapter, so this subclass replaces
`build_client` and the model list; the Messages mapping, the stream state machine and the
error table are the Anthropic adapter's (the Bedrock client raises the same SDK exceptions,
chosen by HTTP status, and decodes Bedrock's AWS event-stream frames into the same events).

- Credentials: the access key id and secret (and a session token for temporary credentials)
  from the provider; with none, botocore's default chain (the instance or task role). The
  region names the endpoint, https://bedrock-runtime.{region}.amazonaws.com, unless a base
  URL is set (a VPC endpoint, or the tests' fake).
- Paths: POST /model/{modelId}/invoke and /invoke-with-response-stream; the model id is the
  Bedrock model or inference-profile id (`anthropic.claude-sonnet-4-5-20250929-v1:0`,
  `us.anthropic.claude-...`), and the body carries `anthropic_version` instead of `model`.
- Model list: Bedrock's control plane, GET /foundation-models?byProvider=Anthropic on
  https://bedrock.{region}.amazonaws.com (or the base URL), signed the same way and sent
  through the same egress-checked HTTP client. No embeddings (Claude has none).
"""

from typing import Any

import anthropic
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from providers.adapters.anthropic_adapter import AnthropicAdapter
from providers.adapters.errors import ProviderAuthenticationError
from providers.adapters.types import ProviderSettings, RemoteModel

LIST_PROVIDER = "Anthropic"


class BedrockAdapter(AnthropicAdapter):
    def build_client(self, settings: ProviderSettings) -> anthropic.AnthropicBedrock:
        values = settings.credentials
        region = values.get("region", "")
        if not region:
            raise ProviderAuthenticationError(
                "An Amazon Bedrock provider needs its AWS region.", provider=settings.slug
            )
        self.region = region
        self.control_url = (settings.base_url or f"https://bedrock.{region}.amazonaws.com").rstrip(
            "/"
        )
        self.list_client = self.http_client()
        if not values.get("aws_access_key_id"):
            self._aws_credentials()  # the role must resolve now, or the provider says why
        return anthropic.AnthropicBedrock(
            aws_access_key=values.get("aws_access_key_id") or None,
            aws_secret_key=values.get("aws_secret_access_key") or None,
            aws_session_token=values.get("aws_session_token") or None,
            aws_region=region,
            base_url=settings.base_url or f"https://bedrock-runtime.{region}.amazonaws.com",
            http_client=self.http_client(),
            default_headers=dict(settings.extra_headers) or None,
            timeout=settings.timeout,
            max_retries=0,
        )

    def close(self) -> None:
        super().close()
        self.list_client.close()

    def _aws_credentials(self) -> Any:
        values = self.settings.credentials
        if values.get("aws_access_key_id"):
            return Credentials(
                values["aws_access_key_id"],
                values.get("aws_secret_access_key", ""),
                values.get("aws_session_token") or None,
            )
        import boto3  # the instance role: botocore's default credential chain

        credentials = boto3.Session(region_name=self.region).get_credentials()
        if credentials is None:
            raise ProviderAuthenticationError(
                "No AWS credentials are configured and none come from the instance role.",
                provider=self.settings.slug,
            )
        return credentials

    def _list_models(self) -> list[RemoteModel]:
        url = f"{self.control_url}/foundation-models?byProvider={LIST_PROVIDER}"
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(self._aws_credentials(), "bedrock", self.region).add_auth(request)
        response = self.list_client.get(url, headers=dict(request.headers.items()))
        if response.status_code != 200:
            raise self.client._make_status_error_from_response(response)
        return [
            RemoteModel(
                id=summary["modelId"],
                display_name=summary.get("modelName") or "",
                kind="chat",
            )
            for summary in response.json().get("modelSummaries") or ()
        ]
