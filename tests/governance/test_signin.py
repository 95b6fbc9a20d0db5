"""Sign-in through the real admin form: the second factor for key holders, recovery codes,
lockout after repeated failures and unlock by an administrator, all in the audit trail."""

import re
import time

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.audit.models import AuditEvent
from tests.governance.helpers import member

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PROVIDERS = "/admin/providers/providerconfig/"
SETUP = "/admin/second-factor/"


def password_of(user) -> str:
    return f"pw-{user.username}-Long-9"


def sign_in(client: Client, user, code: str = "", password: str | None = None):
    return client.post(
        f"{LOGIN}?next=/admin/",
        {"username": user.username, "password": password or password_of(user), "otp_token": code},
    )


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The device's code, optionally for a later time step (a code is accepted only once)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def enrol(client: Client) -> tuple[TOTPDevice, list[str]]:
    page = client.get(SETUP)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and 'id="mfa-secret"' in html
    device = TOTPDevice.objects.get(confirmed=False)
    done = client.post(SETUP, {"action": "confirm", "otp_token": code_for(device)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]+)</code></li>", done.content.decode())
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    return device, codes


@pytest.fixture
def key_manager(db):
    return member("kim", "Key manager")


def test_key_manager_without_a_device_reaches_only_the_set_up_page(client, key_manager):
    response = sign_in(client, key_manager)
    assert response.status_code == 302
    providers = client.get(PROVIDERS)
    assert providers.status_code == 302 and providers["Location"].startswith(SETUP)
    index = client.get("/admin/")
    assert index.status_code == 302 and index["Location"].startswith(SETUP)
    api = client.get("/api/providers/")
    assert api.status_code == 403
    assert api.json()["error"]["details"] == {"reason": "mfa_required"}
    assert client.get("/playground/").status_code == 302

    enrol(client)
    assert client.get(PROVIDERS).status_code == 200
    enrolled = AuditEvent.objects.filter(action="mfa_enrolled", actor="kim")
    assert enrolled.count() == 1 and enrolled.get().source == "admin"


def test_with_a_device_the_code_is_required_and_opens_the_provider_list(
    client, key_manager, settings
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's delay after a wrong code
    sign_in(client, key_manager)
    device, _ = enrol(client)
    client.post(reverse("admin:logout"))

    without_code = sign_in(client, key_manager)
    assert without_code.status_code == 200  # the form again, with the error
    assert "Enter the current code" in without_code.content.decode()
    wrong = sign_in(client, key_manager, code="000000" if code_for(device) != "000000" else "1")
    assert wrong.status_code == 200
    assert client.get(PROVIDERS).status_code == 302

    right = sign_in(client, key_manager, code=code_for(device, steps_ahead=1))
    assert right.status_code == 302
    assert client.get(PROVIDERS).status_code == 200
    failures = AuditEvent.objects.filter(action="sign_in_failed", actor="kim")
    assert failures.count() == 2 and {e.ip for e in failures} == {"127.0.0.1"}
    assert AuditEvent.objects.filter(action="sign_in", actor="kim", source="admin").count() == 2


def test_a_recovery_code_works_once(client, key_manager, settings):
    settings.OTP_STATIC_THROTTLE_FACTOR = 0  # django-otp's delay after a wrong code
    sign_in(client, key_manager)
    _, codes = enrol(client)
    client.post(reverse("admin:logout"))

    assert sign_in(client, key_manager, code=codes[0]).status_code == 302
    assert client.get(PROVIDERS).status_code == 200
    client.post(reverse("admin:logout"))
    again = sign_in(client, key_manager, code=codes[0])
    assert again.status_code == 200
    assert client.get(PROVIDERS).status_code == 302
    assert StaticToken.objects.count() == 9
    assert sign_in(client, key_manager, code=codes[1]).status_code == 302


def test_a_viewer_needs_no_second_factor(client):
    viewer = member("vic", "Viewer")
    assert sign_in(client, viewer).status_code == 302
    assert client.get(PROVIDERS).status_code == 200
    assert client.get("/admin/providers/providerconfig/add/").status_code == 403


def test_a_superuser_must_enrol_too(client, superuser):
    response = client.post(LOGIN, {"username": "admin", "password": "pw-admin-123"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_lockout_after_the_configured_failures_and_unlock_by_an_administrator(
    client, settings, key_manager
):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        assert sign_in(client, key_manager, password="wrong-password").status_code in (200, 429)
    locked = sign_in(client, key_manager)  # the right password, yet refused
    assert locked.status_code == 429
    assert client.get(PROVIDERS).status_code == 302
    assert AuditEvent.objects.filter(action="locked_out", actor="kim").exists()
    assert AuditEvent.objects.filter(action="sign_in_failed", actor="kim").count() >= 3

    operator_client = Client()
    operator = member("otto", "Operator")
    operator_client.force_login(operator)
    users = reverse("admin:auth_user_changelist")
    refused = operator_client.post(
        users, {"action": "unlock_sign_in", "_selected_action": [key_manager.pk]}
    )
    assert refused.status_code == 403
    assert sign_in(Client(), key_manager).status_code == 429

    admin_client = Client()
    administrator = member("ada", "Administrator")
    admin_client.force_login(administrator)
    done = admin_client.post(
        users, {"action": "unlock_sign_in", "_selected_action": [key_manager.pk]}
    )
    assert done.status_code == 302
    unlock = AuditEvent.objects.get(action="unlock")
    assert (unlock.actor, unlock.object_id, unlock.source) == ("ada", "kim", "admin")
    assert sign_in(client, key_manager).status_code == 302


def test_an_administrator_resets_a_lost_second_factor(client, key_manager):
    sign_in(client, key_manager)
    enrol(client)
    admin_client = Client()
    admin_client.force_login(member("ada", "Administrator"))
    response = admin_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [key_manager.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=key_manager).exists()
    assert AuditEvent.objects.filter(action="mfa_reset", object_id=str(key_manager.pk)).exists()
    fresh = Client()
    assert sign_in(fresh, key_manager).status_code == 302
    assert fresh.get(PROVIDERS)["Location"].startswith(SETUP)


@pytest.mark.unverified_force_login
def test_an_unverified_session_with_a_device_is_asked_for_the_code(client, key_manager):
    device = TOTPDevice.objects.create(user=key_manager, name="app", confirmed=True)
    client.force_login(key_manager)
    assert client.get(PROVIDERS).status_code == 302
    page = client.get(SETUP)
    assert "Enter your one-time code" in page.content.decode()
    done = client.post(
        SETUP, {"action": "verify", "otp_token": code_for(device), "next": PROVIDERS}
    )
    assert done.status_code == 302 and done["Location"] == PROVIDERS
    assert client.get(PROVIDERS).status_code == 200


def test_a_failed_attempt_stores_no_code_or_password(client, key_manager, settings):
    from axes.models import AccessAttempt

    sign_in(client, key_manager, code="123456", password="a-wrong-password-1")
    attempt = AccessAttempt.objects.get()
    assert "123456" not in attempt.post_data and "a-wrong-password-1" not in attempt.post_data
