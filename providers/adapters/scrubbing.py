"""Remove a provider's secrets from provider text kept for staff, in every form an upstream
may echo them: whole, in part (any run of 8 characters of it), base64 or URL-encoded.

Exact matching is not enough: a hostile or careless upstream that answers "invalid key
sk-abc...xyz" minus a few characters, or base64-encoded, would otherwise get the key into
UsageRecord.error_message and logs. Every adapter goes through `SecretScrubber` via the base
class, for messages and for the chained SDK exceptions that tracebacks show.
"""

import base64
import contextlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from config.logging import redact

REDACTED = "[REDACTED]"
RUN = 8  # the shortest run of a secret that is redacted wherever it appears
MIN_EXACT = 6  # shorter secrets (placeholders such as "none") are not searched for at all


def secret_variants(secret: str) -> set[str]:
    """The forms in which `secret` may come back: itself, URL-encoded, and base64 (standard and
    URL-safe) of it at each of the three byte alignments, so a base64 of any part that starts
    anywhere in the secret shares 8-character runs with one of them."""
    variants = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    variants |= {v.lower() for v in list(variants) if "%" in v}
    raw = secret.encode()
    for offset in range(3):
        chunk = raw[offset:]
        if not chunk:
            continue
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(chunk).decode().rstrip("=")
            # The last 1-2 characters depend on the bytes that follow the secret.
            variants.add(encoded[: len(encoded) - 2] if len(encoded) > RUN + 2 else encoded)
    return {v for v in variants if v}


class SecretScrubber:
    """Built once per adapter from its secrets; `scrub` is linear in the text's length."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.exact: set[str] = set()
        self.runs: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < MIN_EXACT:
                continue
            for variant in secret_variants(secret):
                if len(variant) < RUN:
                    self.exact.add(variant)
                    continue
                self.runs.update(variant[i : i + RUN] for i in range(len(variant) - RUN + 1))

    def scrub(self, text: str, *, limit: int | None = 1000) -> str:
        """`text` with every secret run (and anything credential-shaped) replaced."""
        for secret in sorted(self.exact, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        if self.runs and len(text) >= RUN:
            text = self._scrub_runs(text)
        text = redact(text)
        return text[:limit] if limit is not None else text

    def _scrub_runs(self, text: str) -> str:
        covered = bytearray(len(text))
        for start in range(len(text) - RUN + 1):
            if text[start : start + RUN] in self.runs:
                covered[start : start + RUN] = b"\x01" * RUN
        if not any(covered):
            return text
        out: list[str] = []
        index = 0
        while index < len(text):
            if covered[index]:
                while index < len(text) and covered[index]:
                    index += 1
                out.append(REDACTED)
            else:
                out.append(text[index])
                index += 1
        return "".join(out)

    def scrub_value(self, value: Any) -> Any:
        """Strings inside dicts and lists (an SDK error's parsed body) scrubbed in place."""
        if isinstance(value, str):
            return self.scrub(value, limit=None)
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = self.scrub_value(item)
            return value
        if isinstance(value, list):
            for index, item in enumerate(value):
                value[index] = self.scrub_value(item)
            return value
        return value

    def scrub_exception_chain(self, exc: BaseException | None) -> None:
        """Scrub an exception and every exception chained to it, in place: they stay attached
        as __cause__/__context__ and a logged traceback prints their text."""
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            exc.args = tuple(
                self.scrub(a, limit=None) if isinstance(a, str) else self.scrub_value(a)
                for a in exc.args
            )
            for name in ("message", "body", "details", "api_message"):
                current = getattr(exc, name, None)
                if isinstance(current, str | dict | list):
                    with contextlib.suppress(AttributeError):  # a read-only property
                        setattr(exc, name, self.scrub_value(current))
            exc = exc.__cause__ or exc.__context__
