"""Fake gemini server (being written)."""
