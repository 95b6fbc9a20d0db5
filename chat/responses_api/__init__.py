"""OpenAI's Responses API (POST /v1/responses) over the same call runtime as /v1/chat.

A Responses request is parsed into the internal ChatRequest (parsing), continued from a stored
response when it names `previous_response_id` (services, selectors), answered by whichever
provider the selection picks, and rendered as a Response object or its streamed events
(rendering, streaming). Stored conversations are kept as plain messages (conversation).
"""
