"""Fake anthropic server (being written)."""
