"""Reads of conversations, always scoped to their owner (a user or a consumer key)."""

from django.db.models import QuerySet

from chat.models import Conversation
from config.errors import NotFound


def conversation_list(
    *, owner_id: int | None = None, api_key_id: str | None = None
) -> QuerySet[Conversation]:
    """The caller's conversations: a user's, or a consumer key's (never both, never others')."""
    if api_key_id is not None:
        return Conversation.objects.filter(api_key_id=api_key_id)
    if owner_id is not None:
        return Conversation.objects.filter(owner_id=owner_id, api_key__isnull=True)
    return Conversation.objects.none()


def conversation_get(
    *, pk: int, owner_id: int | None = None, api_key_id: str | None = None
) -> Conversation:
    """One of the caller's conversations; someone else's is a 404, as if it did not exist."""
    conversation = (
        conversation_list(owner_id=owner_id, api_key_id=api_key_id)
        .prefetch_related("messages")
        .filter(pk=pk)
        .first()
    )
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation
