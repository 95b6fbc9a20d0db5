"""Builders of UsageRecord rows for the rollup, reconciliation, API and dashboard tests.

Records are written straight to the table (not through the call runtime) so a test controls
every field, including created_at on either side of a business-day boundary.
"""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from usage.models import UsageRecord


def make_record(*, created_at: datetime, **fields: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "request_id": uuid.uuid4().hex,
        "provider": "openai",
        "model_string": "openai:gpt-4o",
        "service": "rag_agent",
        "input_tokens": 100,
        "output_tokens": 20,
        "cost": Decimal("0.0012345678"),
        "is_priced": True,
        "latency_ms": 300,
        "outcome": "ok",
    }
    values.update(fields)
    if values["cost"] is None:
        values["is_priced"] = False
    return UsageRecord.objects.create(created_at=created_at, **values)


def make_api_key(name: str = "reporting-job"):
    from providers.models import ConsumerAPIKey

    key, _secret = ConsumerAPIKey.objects.create_key(name=name)
    return key
