"""Attribution of a call: the caller's end user and tags, kept on its usage records.

Where they come from (the same on /v1 and the native /api):
- `user` (a string): the caller's own end user, as OpenAI's `user` parameter;
- `metadata` (an object of string -> string, OpenAI's limits: 16 pairs, keys up to 64
  characters, values up to 512): each pair becomes the tag `key:value`;
- the `x-tags` header: comma-separated tags, taken as written (`feature:search, beta`).

Metadata pairs and header tags share one namespace on purpose: `metadata={"feature":
"search"}` and `x-tags: feature:search` both tag the call `feature:search`, so one tag-scoped
budget or one report row covers callers of either style. Tags are stored sorted and without
duplicates. Anything beyond the limits is refused with a 400 naming the parameter, never cut
silently (a silently cut tag would charge the wrong budget) and never a 500 (control
characters, which PostgreSQL cannot store in text when NUL, are refused too).
"""

from dataclasses import dataclass
from typing import Any

from config.errors import InvalidInput
from usage.models.daily import TAG_MAX_LENGTH

END_USER_MAX_LENGTH = 256
METADATA_MAX_PAIRS = 16
METADATA_KEY_MAX_LENGTH = 64
METADATA_VALUE_MAX_LENGTH = 512
HEADER_MAX_TAGS = 16
HEADER_TAG_MAX_LENGTH = 128
TAGS_HEADER = "x-tags"


@dataclass(frozen=True, slots=True)
class Attribution:
    end_user: str = ""
    tags: tuple[str, ...] = ()


def _invalid(message: str, param: str) -> InvalidInput:
    return InvalidInput(message, details={"param": param})


def _has_control(text: str) -> bool:
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)


def tag_problem(tag: str) -> str | None:
    """Why `tag` cannot be a tag (None when it can): shared by requests and tag budgets."""
    if not tag or tag != tag.strip():
        return "A tag must be non-empty, without surrounding spaces."
    if len(tag) > TAG_MAX_LENGTH:
        return f"A tag has at most {TAG_MAX_LENGTH} characters."
    if _has_control(tag):
        return "A tag cannot contain control characters."
    return None


def _end_user(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid("user must be a string.", "user")
    if len(value) > END_USER_MAX_LENGTH:
        raise _invalid(f"user has at most {END_USER_MAX_LENGTH} characters.", "user")
    if _has_control(value):
        raise _invalid("user cannot contain control characters.", "user")
    return value


def _metadata_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise _invalid("metadata must be an object of string keys and string values.", "metadata")
    if len(value) > METADATA_MAX_PAIRS:
        raise _invalid(f"metadata has at most {METADATA_MAX_PAIRS} pairs.", "metadata")
    tags = []
    for key, item in value.items():
        if not isinstance(item, str):
            raise _invalid("metadata values must be strings.", "metadata")
        if not key or len(key) > METADATA_KEY_MAX_LENGTH:
            raise _invalid(
                f"metadata keys have 1 to {METADATA_KEY_MAX_LENGTH} characters.", "metadata"
            )
        if len(item) > METADATA_VALUE_MAX_LENGTH:
            raise _invalid(
                f"metadata values have at most {METADATA_VALUE_MAX_LENGTH} characters.", "metadata"
            )
        tag = f"{key.strip()}:{item.strip()}"
        problem = tag_problem(tag) if key.strip() else "metadata keys cannot be blank."
        if problem:
            raise _invalid(f"metadata[{key[:64]!r}]: {problem}", "metadata")
        tags.append(tag)
    return tags


def _header_tags(value: str | None) -> list[str]:
    if not value:
        return []
    tags = [part.strip() for part in value.split(",") if part.strip()]
    if len(tags) > HEADER_MAX_TAGS:
        raise _invalid(f"{TAGS_HEADER} has at most {HEADER_MAX_TAGS} tags.", TAGS_HEADER)
    for tag in tags:
        if len(tag) > HEADER_TAG_MAX_LENGTH:
            raise _invalid(
                f"{TAGS_HEADER}: a tag has at most {HEADER_TAG_MAX_LENGTH} characters.",
                TAGS_HEADER,
            )
        problem = tag_problem(tag)
        if problem:
            raise _invalid(f"{TAGS_HEADER}: {problem}", TAGS_HEADER)
    return tags


def attribution_parse(*, user: Any, metadata: Any, tags_header: str | None) -> Attribution:
    """The attribution of one request from its body's `user` and `metadata` and its `x-tags`
    header; raises InvalidInput (400) naming the parameter beyond the limits above."""
    tags = {*_metadata_tags(metadata), *_header_tags(tags_header)}
    return Attribution(end_user=_end_user(user), tags=tuple(sorted(tags)))
