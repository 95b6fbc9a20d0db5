"""Reads of stored responses, always scoped to the consumer key that made them."""

from django.utils import timezone

from chat.models import StoredResponse
from config.errors import NotFound


class ResponseNotFound(NotFound):
    code = "response_not_found"


def stored_response_get(*, response_id: str, api_key_id: str, param: str = "") -> StoredResponse:
    """One of this key's unexpired responses. Another key's response, an expired one and an
    unknown id are the same 404, so ids cannot be probed across keys."""
    stored = StoredResponse.objects.filter(
        pk=response_id, api_key_id=api_key_id, expires_at__gt=timezone.now()
    ).first()
    if stored is None:
        details = {"param": param} if param else {}
        raise ResponseNotFound(f"Response with id {response_id[:64]!r} not found.", details=details)
    return stored
