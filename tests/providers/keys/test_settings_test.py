"""Test before saving (issue 10 §5): admin's "Test these settings" and POST
/api/providers/test/ list the models the typed kind, base URL and key would see, against the
fakes of every kind (success, wrong key, unreachable), and the typed key is found nowhere
afterwards: not in the database, the logs, the cache or the answer."""

import socket

import pytest
from django.urls import reverse

from providers.models import ProviderConfig
from tests.fakes.openai_server import OpenAIFakeServer
from tests.providers.api.conftest import grant
from tests.security.sweep import (
    DebugLogs,
    cache_entries,
    encrypted_columns_decrypted,
    now,
    table_dump,
)

pytestmark = pytest.mark.django_db

KINDS = [
    ("openai_compatible", "openai_fake"),
    ("openai", "openai_fake"),
    ("anthropic", "anthropic_fake"),
    ("gemini", "gemini_fake"),
]
WRONG_KEY = "sk-typed-wrong-key-Qm4Zx8Lp2Wv6Rt0Y"


def base_url(kind: str, fake) -> str:
    return f"{fake.url}/v1" if kind.startswith("openai") else fake.url


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def body(kind, url, key, **extra):
    return {"kind": kind, "base_url": url, "api_key": key, "timeout_seconds": 2, **extra}


# -- API ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "fake_name"), KINDS)
def test_api_settings_test_success_wrong_key_unreachable(
    kind, fake_name, request, admin_client_api
):
    fake = request.getfixturevalue(fake_name)
    url = "/api/providers/test/"
    ok = admin_client_api.post(url, body(kind, base_url(kind, fake), fake.api_key), format="json")
    assert ok.status_code == 200, ok.content
    data = ok.json()
    assert data["ok"] is True and data["error"] is None
    assert data["model_count"] == len(data["models"]) > 0
    assert set(data["models"]) >= set(fake.models) - {""}

    wrong = admin_client_api.post(url, body(kind, base_url(kind, fake), WRONG_KEY), format="json")
    assert wrong.status_code == 200
    error = wrong.json()["error"]
    assert wrong.json()["ok"] is False and error["code"] == "provider_authentication_failed"
    assert WRONG_KEY[:10] not in wrong.content.decode()
    assert "fake" not in error["message"].lower()  # the provider's own text is never shown

    down = admin_client_api.post(url, body(kind, closed_port_url(), fake.api_key), format="json")
    assert down.json()["ok"] is False
    assert down.json()["error"]["code"] in ("provider_unavailable", "provider_timeout")
    assert ProviderConfig.objects.count() == 0


def test_api_settings_test_refuses_metadata_and_needs_add_or_change(staff_client_with, openai_fake):
    viewer = staff_client_with("view_providerconfig")
    payload = body("openai_compatible", f"{openai_fake.url}/v1", openai_fake.api_key)
    assert viewer.post("/api/providers/test/", payload, format="json").status_code == 403
    adder = staff_client_with("add_providerconfig")
    answer = adder.post(
        "/api/providers/test/",
        body("openai_compatible", "http://169.254.169.254/latest", "sk-abcdefgh12345678"),
        format="json",
    )
    assert answer.status_code == 200
    assert answer.json()["error"]["code"] == "provider_destination_refused"
    assert adder.post("/api/providers/test/", payload, format="json").json()["ok"] is True
    assert openai_fake.last_request().headers["authorization"] == f"Bearer {openai_fake.api_key}"


def test_api_settings_test_uses_a_stored_key_only_at_its_own_address(admin_client_api, openai_fake):
    attacker = OpenAIFakeServer().start()
    attacker.api_key = None
    try:
        ProviderConfig.objects.create(
            slug="stored",
            kind="openai_compatible",
            name="s",
            base_url=f"{openai_fake.url}/v1",
            api_key=openai_fake.api_key,
        )
        home = admin_client_api.post(
            "/api/providers/test/",
            {"slug": "stored", "kind": "openai_compatible", "base_url": f"{openai_fake.url}/v1"},
            format="json",
        )
        assert home.json()["ok"] is True
        away = admin_client_api.post(
            "/api/providers/test/",
            {"slug": "stored", "kind": "openai_compatible", "base_url": f"{attacker.url}/v1"},
            format="json",
        )
        assert away.json()["error"]["code"] == "provider_key_unbound"
        assert attacker.requests == []
        missing = admin_client_api.post(
            "/api/providers/test/", {"slug": "nope", "kind": "openai"}, format="json"
        )
        assert missing.status_code == 404
    finally:
        attacker.stop()


# -- admin ----------------------------------------------------------------------------------
def admin_form(kind, url, key, **overrides):
    data = {
        "slug": "typed",
        "kind": kind,
        "name": "Typed",
        "base_url": url,
        "organization": "",
        "project": "",
        "timeout_seconds": "2",
        "max_retries": "0",
        "is_active": "on",
        "new_api_key": key,
        "new_extra_headers": "",
        "_test_settings": "Test these settings",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(("kind", "fake_name"), KINDS)
def test_admin_test_these_settings_on_the_add_form(kind, fake_name, request, client, superuser):
    fake = request.getfixturevalue(fake_name)
    client.force_login(superuser)
    add = reverse("admin:providers_providerconfig_add")
    assert "Test these settings" in client.get(add).content.decode()

    page = client.post(add, admin_form(kind, base_url(kind, fake), fake.api_key))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Tested, not saved: connection ok" in html
    assert sorted(fake.models)[0] in html
    assert fake.api_key not in html

    page = client.post(add, admin_form(kind, base_url(kind, fake), WRONG_KEY)).content.decode()
    assert "provider_authentication_failed" in page and WRONG_KEY[:10] not in page

    page = client.post(add, admin_form(kind, closed_port_url(), fake.api_key)).content.decode()
    assert "the test failed: provider_" in page
    assert not ProviderConfig.objects.exists()


def test_admin_test_these_settings_on_the_change_form_needs_the_key_for_a_new_address(
    client, staff_user, openai_fake
):
    provider = ProviderConfig.objects.create(
        slug="typed",
        kind="openai_compatible",
        name="Typed",
        base_url=f"{openai_fake.url}/v1",
        api_key=openai_fake.api_key,
    )
    client.force_login(grant(staff_user, "change_providerconfig", "view_providerconfig"))
    change = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    page = client.post(change, admin_form("openai_compatible", f"{openai_fake.url}/v1", ""))
    assert "Tested, not saved: connection ok" in page.content.decode()
    moved = admin_form("openai_compatible", "http://127.0.0.1:9/v1", "")
    page = client.post(change, moved).content.decode()
    assert "entering the API key again" in page and "Tested" not in page
    provider.refresh_from_db()
    assert provider.base_url == f"{openai_fake.url}/v1"


# -- the typed key leaves no trace ---------------------------------------------------------------
def test_the_typed_key_appears_nowhere_afterwards(client, superuser, admin_client_api, openai_fake):
    typed = "sk-typed-only-Hn3Jq7Vx1Kc5Bz9Mw2Pd"
    openai_fake.api_key = typed
    client.force_login(superuser)
    started = now()
    with DebugLogs() as logs:
        pages = [
            client.post(
                reverse("admin:providers_providerconfig_add"),
                admin_form("openai_compatible", f"{openai_fake.url}/v1", typed),
            ).content.decode(),
            admin_client_api.post(
                "/api/providers/test/",
                body("openai_compatible", f"{openai_fake.url}/v1", typed),
                format="json",
            ).content.decode(),
            admin_client_api.post(  # a wrong key typed: the fake echoes it back
                "/api/providers/test/",
                body("openai_compatible", f"{openai_fake.url}/v1", typed[:-1] + "X"),
                format="json",
            ).content.decode(),
        ]
    assert "connection ok" in pages[0] and '"ok":true' in pages[1].replace(" ", "")
    runs = [typed[i : i + 8] for i in range(len(typed) - 7)]

    def leaked(text: str) -> bool:
        return any(run in text for run in runs)

    assert not any(leaked(page) for page in pages)
    assert not leaked(logs.text()), logs.text()
    assert not leaked(repr(table_dump()))
    assert not leaked(repr(encrypted_columns_decrypted()))
    assert not leaked(repr(list(cache_entries(started))))


def test_admin_change_form_test_keeps_the_stored_headers_with_a_typed_key(
    client, superuser, openai_fake
):
    provider = ProviderConfig.objects.create(
        slug="typed",
        kind="openai_compatible",
        name="Typed",
        base_url=f"{openai_fake.url}/v1",
        api_key="sk-old-key-000011112222",
        extra_headers='{"X-Team": "stored-team-header"}',
    )
    client.force_login(superuser)
    change = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    page = client.post(
        change, admin_form("openai_compatible", f"{openai_fake.url}/v1", openai_fake.api_key)
    )
    assert "Tested, not saved: connection ok" in page.content.decode()
    sent = openai_fake.last_request().headers
    assert sent["authorization"] == f"Bearer {openai_fake.api_key}"
    assert sent["x-team"] == "stored-team-header"
    provider.refresh_from_db()
    assert provider.api_key == "sk-old-key-000011112222"
