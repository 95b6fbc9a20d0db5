"""Test settings: PostgreSQL and Redis when DATABASE_URL/REDIS_URL are set, else SQLite."""

import tempfile
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import LOCAL_PROVIDER_NETWORKS, REDIS_URL, cache_config

SECRET_KEY = "test-secret-key-not-for-production"
# Two fixed test keys (Fernet format); tests that rotate keys override this setting.
FIELD_ENCRYPTION_KEYS = [
    "ozHPeQj-U9YK-9J-Sgv5ZnJpZQEYQTrbrBE1e-fYOpE=",
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEBUG = False

_TMP = Path(tempfile.gettempdir()) / "control-plane-tests"
CACHES = cache_config(REDIS_URL, _TMP / "cache", key_prefix="test")
CELERY_TASK_ALWAYS_EAGER = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The fake provider servers listen on loopback.
PROVIDER_ALLOWED_NETWORKS = list(LOCAL_PROVIDER_NETWORKS)
