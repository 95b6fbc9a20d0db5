"""Fake openai server (being written)."""
