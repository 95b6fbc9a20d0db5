"""Fixtures of the operations tests: a fast runtime and fresh resolutions, as the chat tests."""

from tests.chat.conftest import fast_runtime, fresh_resolver  # noqa: F401
