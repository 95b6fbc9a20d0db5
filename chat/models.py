"""Models of the chat app (Conversation and Message arrive with the call runtime)."""
