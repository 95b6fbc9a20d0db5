"""Query-parameter filters that refuse bad values with a field-level 400 (never ignore them)."""

from collections.abc import Iterable, Mapping

from rest_framework import serializers

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def boolean_param(params: Mapping[str, str], name: str) -> bool | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise serializers.ValidationError({name: [f"Use true or false, not {raw[:50]!r}."]})


def choice_param(params: Mapping[str, str], name: str, choices: Iterable[str]) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    allowed = list(choices)
    if raw not in allowed:
        raise serializers.ValidationError(
            {name: [f"Unknown {name} {raw[:50]!r}; choose one of {', '.join(allowed)}."]}
        )
    return raw
