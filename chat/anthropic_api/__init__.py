"""Anthropic's Messages API (/anthropic/v1/...), served by any provider, so the Anthropic SDK
and Claude Code work against the gateway unchanged. Thin views (views.py) over
chat.services; parsing.py and rendering.py translate to and from the plain adapter types."""
