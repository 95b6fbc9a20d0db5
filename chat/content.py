"""Message content in OpenAI's shape (text, or a list of text and image_url parts) -> parts.

Shared by the /v1 API, the conversation API and stored conversation messages.
"""

from typing import Any

from config.errors import InvalidInput
from providers.adapters.types import CacheControl, ContentPart, ImagePart, TextPart


def invalid_param(message: str, param: str) -> InvalidInput:
    """A 400 naming the offending parameter (OpenAI's `param`)."""
    return InvalidInput(message, details={"param": param})


def _text(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise invalid_param(f"{param} must be a string.", param)
    return value


CACHE_TTLS = ("5m", "1h")


def cache_control_parse(value: Any, param: str) -> CacheControl | None:
    """Anthropic's {"type": "ephemeral"} (with an optional ttl of 5m or 1h)."""
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or value.get("type") != "ephemeral"
        or set(value) - {"type", "ttl"}
        or value.get("ttl", "5m") not in CACHE_TTLS
    ):
        raise invalid_param(
            f'{param} must be {{"type": "ephemeral"}} with an optional ttl of 5m or 1h.', param
        )
    return dict(value)


def content_parse(value: Any, param: str) -> str | tuple[ContentPart, ...]:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise invalid_param(f"{param} must be a string or an array of content parts.", param)
    parts: list[ContentPart] = []
    for index, part in enumerate(value):
        where = f"{param}[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append(
                TextPart(
                    text=_text(part.get("text"), f"{where}.text"),
                    cache_control=cache_control_parse(
                        part.get("cache_control"), f"{where}.cache_control"
                    ),
                )
            )
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            detail = image.get("detail") if isinstance(image, dict) else None
            parts.append(ImagePart(url=_text(url, f"{where}.image_url.url"), detail=detail))
        else:
            raise invalid_param(f"{where}.type must be 'text' or 'image_url'.", f"{where}.type")
    return tuple(parts)
