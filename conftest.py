"""Root pytest configuration: fake provider servers and shared fixtures."""

pytest_plugins = [
    "tests.fixtures",
    "tests.fakes.openai_server",
    "tests.fakes.anthropic_server",
    "tests.fakes.gemini_server",
    "tests.fakes.azure_server",
    "tests.fakes.vertex_server",
    "tests.fakes.bedrock_server",
]
