"""Fixtures shared by the whole suite."""

import os
import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import override_settings

requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL: set DATABASE_URL=postgres://... (CI always does)",
)
requires_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="needs Redis: set REDIS_URL=redis://... (CI always does)",
)


@pytest.fixture(autouse=True)
def isolated_cache() -> Iterator[None]:
    """Each test gets its own key space in the shared cache (Redis in CI), so tests never
    see each other's state, and nothing ever flushes a shared Redis database."""
    caches = {name: dict(conf) for name, conf in settings.CACHES.items()}
    for conf in caches.values():
        conf["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"
    with override_settings(CACHES=caches):
        yield


@pytest.fixture(autouse=True)
def fresh_adapter_pool() -> Iterator[None]:
    from providers.adapters.registry import adapter_pool

    adapter_pool.clear()
    yield
    adapter_pool.clear()


@pytest.fixture(autouse=True)
def fresh_outage_log() -> Iterator[None]:
    """Outage tracebacks are logged once per interval per process: each test starts afresh."""
    from config.outages import outage_tracebacks_forget

    outage_tracebacks_forget()
    yield
    outage_tracebacks_forget()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="staff", password="pw-staff-123", is_staff=True, email="staff@example.com"
    )


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(
        username="admin", password="pw-admin-123", email="admin@example.com"
    )


@pytest.fixture(autouse=True)
def second_factor_on_force_login(request, monkeypatch) -> None:
    """`force_login` skips the sign-in form, so it would leave a user who must use a second
    factor (a superuser, a key manager, an administrator) unverified and confined to the
    set-up page. In tests it also gives them a confirmed device and a verified session, as a
    real sign-in with a code would; production is unchanged. Tests of the real flow sign in
    through the form, or mark themselves `unverified_force_login`."""
    if request.node.get_closest_marker("unverified_force_login"):
        return
    from django.test import Client

    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from config.access.mfa import mfa_required

        if mfa_required(user):
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="test device", confirmed=True)
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


def confirmed_second_factor(user):
    """Give `user` a confirmed TOTP device (as if they had enrolled); returns the device."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=True)
