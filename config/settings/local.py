"""Development settings: `make run` on SQLite with no external services."""

from config.settings.base import *  # noqa: F403
from config.settings.base import LOCAL_PROVIDER_NETWORKS, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
if not SECRET_KEY:  # noqa: F405
    raise RuntimeError("SECRET_KEY is not set: run `make run`, which writes one into .env.")
# Development: local model servers (Ollama, vLLM) on loopback or the private network.
PROVIDER_ALLOWED_NETWORKS = env.list(
    "PROVIDER_ALLOWED_NETWORKS", default=list(LOCAL_PROVIDER_NETWORKS)
)
