"""PydanticAI on the gateway (the optional `pydantic-ai` extra: `pip install ".[pydantic-ai]"`).

- `GatewayModel("rag_agent")` is a PydanticAI model served by the in-process call runtime: the
  service's selection (read on every request, so a change in admin applies at once), its
  fallbacks, budgets, rate limits and usage records, exactly as for the HTTP APIs.

      agent = Agent(GatewayModel("rag_agent"), output_type=Answer)

- `provider_model("anthropic:claude-sonnet-4-6")` is PydanticAI's own model class for one
  stored provider (its decrypted key, base URL and egress policy), for code that must speak to
  the provider directly; each of its requests is written to the usage ledger.

Importing this package imports pydantic_ai; nothing else under chat/ imports it.
"""

from chat.integrations.pydantic_ai.gateway import GatewayModel, GatewayStreamedResponse
from chat.integrations.pydantic_ai.native import RecordedModel, provider_model

__all__ = ["GatewayModel", "GatewayStreamedResponse", "RecordedModel", "provider_model"]
