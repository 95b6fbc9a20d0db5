"""The leak sweep: canary secrets planted in every place a secret can be (a provider key and an
extra header for each kind, a consumer key, a staff token, SECRET_KEY and the Fernet key), then
every surface driven, in working order and under each upstream failure, and searched for them.

Surfaces: /v1 (chat, streamed chat, embeddings), the native conversations API (JSON and SSE),
the playground, "test connection" (admin and API), live model lists, `sync_models` output, every
admin page of every registered model (iterating admin.site._registry), every GET of the OpenAPI
document for three kinds of caller, DEBUG logs of every logger (the SDKs' and SQL included)
through the project's redaction filter and its console handler, sent email, every table's raw
rows, decoded sessions, the shared cache, Celery beat's stored task arguments and `dumpdata`;
then adapter exceptions, refused forms, dumpdata/loaddata and a password in the Redis URL.
Only the fakes' recorded requests (the wire) may hold a key, and the test checks that they do.

tests/security/test_surfaces.py and test_log_redaction.py hold the focused cases this sweep
generalises (the wrong-key echo, key-shaped strings, Celery worker logs).
"""

import base64
import io
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command
from django.core.serializers.base import DeserializationError
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django_celery_beat.models import ClockedSchedule, SolarSchedule
from knox.settings import CONSTANTS
from rest_framework_api_key.models import APIKey

from providers.adapters.errors import ProviderError
from providers.adapters.registry import adapter_pool
from providers.adapters.types import ChatRequest, EmbeddingRequest, Message
from providers.models import ConsumerAPIKey, ProviderConfig
from providers.services.selection import model_selection_upsert
from providers.services.staff_tokens import staff_token_create
from tests.chat.helpers import FAST_RUNTIME, base_url_for, model_create
from tests.fakes.openai_server import OpenAIFakeServer
from tests.fixtures import confirmed_second_factor
from tests.security import sweep as canaries
from tests.security.sweep import (
    FERNET_KEY,
    HEADER_NAME,
    HEADER_VALUES,
    PROVIDER_KEYS,
    SECRET_KEY,
    DebugLogs,
    Sweep,
)
from tests.security.sweep_drivers import (
    HELLO,
    SPECS,
    Planted,
    Spec,
    closed_port_url,
    drive_calls,
    exception_texts,
    post_json,
    stored_state,
    walk_admin,
    walk_api,
)
from usage.models import Budget, RateLimit, UsageRecord


@pytest.fixture(scope="module")
def compat_fake_server() -> Iterator[OpenAIFakeServer]:
    """A second OpenAI fake, so the openai_compatible provider has a key of its own."""
    server = OpenAIFakeServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def compat_fake(compat_fake_server: OpenAIFakeServer) -> OpenAIFakeServer:
    compat_fake_server.reset()
    return compat_fake_server


@pytest.fixture
def planted(db, settings, request, superuser, compat_fake) -> Planted:
    settings.SECRET_KEY = SECRET_KEY
    settings.FIELD_ENCRYPTION_KEYS = [FERNET_KEY]
    for name, value in FAST_RUNTIME.items():
        setattr(settings, name, value)
    fakes = {}
    for spec in SPECS:
        fake = fakes[spec.slug] = request.getfixturevalue(spec.fake)
        fake.api_key = PROVIDER_KEYS[spec.slug]
        provider = ProviderConfig.objects.create(
            slug=spec.slug,
            kind=spec.kind,
            name=f"Sweep {spec.slug}",
            api_key=PROVIDER_KEYS[spec.slug],
            extra_headers=json.dumps({HEADER_NAME: HEADER_VALUES[spec.slug]}),
            base_url=base_url_for(fake),
            timeout_seconds=2.0,
            max_retries=0,
        )
        model_create(provider, spec.chat_model)
        if spec.embedding_model:
            model_create(provider, spec.embedding_model, kind="embedding", capabilities=[])
    model_selection_upsert(
        service="sweep", primary="oa:gpt-4o-mini", fallbacks=["an:claude-haiku-4-5"], source="test"
    )
    consumer, consumer_secret = ConsumerAPIKey.objects.create_key(name="sweep-program")
    _, library_secret = APIKey.objects.create_key(name="library-key")
    confirmed_second_factor(superuser)  # staff tokens only for users with a second factor
    _, token = staff_token_create(username=superuser.username)
    # A row behind every admin page, and a soft budget that every answered call alerts on.
    Budget.objects.create(name="tiny", scope_type="global", limit_usd=Decimal("0.0001"), hard=False)
    RateLimit.objects.create(
        scope_type="api_key", scope_value=str(consumer.pk), requests_per_minute=100_000
    )
    Group.objects.create(name="sweepers")
    ClockedSchedule.objects.create(clocked_time="2030-01-01T00:00:00Z")
    SolarSchedule.objects.create(event="sunrise", latitude=0, longitude=0)
    call_command("setup_schedules", stdout=io.StringIO())
    sweep = Sweep(
        [
            *canaries.static_canaries(),
            canaries.consumer_key_canary(consumer_secret),
            canaries.consumer_key_canary(library_secret),
            canaries.staff_token_canary(token, CONSTANTS.TOKEN_KEY_LENGTH),
        ]
    )
    return Planted(sweep, fakes, consumer_secret, token)


def test_no_canary_on_any_surface(
    planted: Planted, superuser, caplog, django_capture_on_commit_callbacks
):
    sweep = planted.sweep
    staff, program, by_token = Client(), Client(), Client()
    staff.force_login(superuser)
    started = canaries.now()
    with DebugLogs() as logs, django_capture_on_commit_callbacks(execute=True):
        connection.force_debug_cursor = True  # SQL and its parameters logged at DEBUG
        try:
            drive_calls(planted, staff, program)
            pages = walk_admin(sweep, staff)
            visited = walk_api(
                sweep,
                {
                    "session": (staff, {}),
                    "staff token": (
                        by_token,
                        {"HTTP_AUTHORIZATION": f"Token {planted.staff_token}"},
                    ),
                    "consumer key": (
                        program,
                        {"HTTP_AUTHORIZATION": f"Bearer {planted.consumer_secret}"},
                    ),
                },
            )
            stored_state(sweep, started)
        finally:
            connection.force_debug_cursor = False
    sweep.scan("logs", "project handler at DEBUG", logs.text())
    sweep.scan("logs", "console handler", logs.console_text())
    sweep.scan("logs", "caplog", caplog.text)

    assert not sweep.findings, "canaries leaked:\n" + sweep.report()

    # The sweep saw what it claims to have seen.
    assert len(pages) > 50 and sweep.scanned["admin"] >= len(pages)
    assert {"/api/providers/{slug}/", "/api/conversations/{id}/", "/v1/models"} <= visited
    for slug in PROVIDER_KEYS:  # each key and header really went out on the wire...
        wire = "".join(planted.wire[slug])
        assert PROVIDER_KEYS[slug] in wire and HEADER_VALUES[slug] in wire, slug
    stored = canaries.encrypted_columns_decrypted()  # ...and is stored, encrypted
    assert set(PROVIDER_KEYS.values()) <= set(stored["providers.ProviderConfig.api_key"])
    assert "Incorrect API key provided: [REDACTED]" in "".join(
        UsageRecord.objects.values_list("error_message", flat=True)
    )  # the fake echoed a key, and the adapter scrubbed it
    for logger in ("openai._base_client", "anthropic._base_client", "django.db.backends"):
        assert f" DEBUG {logger} " in logs.text(), logger  # DEBUG records were captured
    assert mail.outbox, "the soft budget's alert email was not sent"


# -- the adapters' exceptions, for every failure mode --------------------------------------------
@pytest.mark.parametrize("spec", SPECS, ids=[s.kind for s in SPECS])
@pytest.mark.parametrize("mode", ["auth_echo", "401", "500", "malformed", "unreachable"])
def test_adapter_exceptions_carry_no_canary(spec: Spec, mode: str, request, compat_fake):
    fake = request.getfixturevalue(spec.fake)
    fake.api_key = PROVIDER_KEYS[spec.slug]
    base_url = base_url_for(fake) if mode != "unreachable" else closed_port_url()
    settings = fake.provider_settings(
        kind=spec.kind,
        api_key=PROVIDER_KEYS[spec.slug],
        extra_headers={HEADER_NAME: HEADER_VALUES[spec.slug]},
        base_url=base_url,
        timeout=2.0,
    )
    adapter = adapter_pool.build(settings)
    sweep = Sweep(canaries.static_canaries())
    planted = Planted(sweep, {spec.slug: fake}, "", "")
    chat = ChatRequest(model=spec.chat_model, messages=(Message("user", "hello"),), max_tokens=9)
    operations: dict[str, Callable[[], Any]] = {
        "complete": lambda: adapter.complete(chat),
        "stream": lambda: list(adapter.stream(chat)),
        "list_models": adapter.list_models,
    }
    if spec.embedding_model:
        embedding = EmbeddingRequest(model=spec.embedding_model, inputs=("hello",))
        operations["embed"] = lambda: adapter.embed(embedding)
    for name, operation in operations.items():
        planted.set_mode(spec.slug, mode)
        with pytest.raises(ProviderError) as caught:
            operation()
        sweep.scan("exception", f"{spec.kind} {mode} {name}", exception_texts(caught.value))
        sweep.scan("exception", f"{spec.kind} {mode} {name} as_dict", caught.value.as_dict())
    assert not sweep.findings, "canaries leaked:\n" + sweep.report()
    if mode == "auth_echo" and spec.kind.startswith("openai"):
        assert "[REDACTED]" in caught.value.message  # the fake echoed the key: scrubbed
    if mode != "unreachable":
        planted.set_mode(spec.slug, "ok")
        assert PROVIDER_KEYS[spec.slug] in "".join(planted.wire[spec.slug])


# -- secrets typed into forms that are refused --------------------------------------------------
SUBMITTED_KEY = "cnry-Pw4Rt8Ys2Ue6-submitted-key"
SUBMITTED_HEADER = "cnry-Ka9Sd3Fg7Hj1-submitted-header"


def test_refused_submissions_do_not_echo_the_secrets_typed(planted: Planted, superuser):
    sweep = planted.sweep
    sweep.add(
        canaries.Canary("submitted key", SUBMITTED_KEY, SUBMITTED_KEY[:-4]),
        canaries.Canary("submitted header", SUBMITTED_HEADER, SUBMITTED_HEADER),
    )
    staff = Client()
    staff.force_login(superuser)
    headers = json.dumps({HEADER_NAME: SUBMITTED_HEADER})
    form = {
        "slug": "Not A Slug!",
        "kind": "openai",
        "name": "refused",
        "new_api_key": SUBMITTED_KEY,
        "new_extra_headers": headers,
        "base_url": f"https://user:{SUBMITTED_KEY}@example.invalid/v1?key={SUBMITTED_KEY}",
        "timeout_seconds": "-1",
        "max_retries": "2",
    }
    add = staff.post(reverse("admin:providers_providerconfig_add"), form)
    assert add.status_code == 200 and b"errornote" in add.content  # refused, page shown again
    sweep.scan_response("admin", "add form, refused", add)
    provider = ProviderConfig.objects.get(slug="oa")
    change_url = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    change = staff.post(change_url, {**form, "slug": "oa"})
    assert change.status_code == 200 and b"errornote" in change.content
    sweep.scan_response("admin", "change form, refused", change)

    api = {"name": "refused", "kind": "openai", "api_key": SUBMITTED_KEY}
    api["extra_headers"] = {HEADER_NAME: SUBMITTED_HEADER, "Bad Name": SUBMITTED_HEADER}
    refused = post_json(staff, "/api/providers/", {**api, "slug": "Not A Slug!"})
    assert refused.status_code == 400
    sweep.scan_response("api", "create, refused", refused)
    url_key = post_json(
        staff, "/api/providers/", {**api, "slug": "x", "base_url": form["base_url"]}
    )
    assert url_key.status_code == 400
    sweep.scan_response("api", "create with a key in the URL, refused", url_key)
    api["extra_headers"] = {HEADER_NAME: SUBMITTED_HEADER}
    accepted = staff.patch("/api/providers/oa/", json.dumps(api), content_type="application/json")
    assert accepted.status_code == 200 and accepted.json()["api_key_hint"].endswith("-key")
    sweep.scan_response("api", "update, accepted", accepted)
    assert not sweep.findings, "canaries leaked:\n" + sweep.report()


# -- dumpdata and loaddata ------------------------------------------------------------------------
def test_dumpdata_writes_ciphertext_that_loaddata_reads_back(db, settings, tmp_path):
    from providers.fields import is_fernet_token

    settings.FIELD_ENCRYPTION_KEYS = [FERNET_KEY]
    key, header = PROVIDER_KEYS["oa"], json.dumps({HEADER_NAME: HEADER_VALUES["oa"]})
    ProviderConfig.objects.create(
        slug="oa", kind="openai", name="a", api_key=key, extra_headers=header
    )
    ProviderConfig.objects.create(slug="keyless", kind="openai", name="b")
    out = io.StringIO()
    call_command("dumpdata", "providers.providerconfig", stdout=out)
    dumped = {row["fields"]["slug"]: row["fields"] for row in json.loads(out.getvalue())}
    assert is_fernet_token(dumped["oa"]["api_key"]) and is_fernet_token(
        dumped["oa"]["extra_headers"]
    )
    assert dumped["keyless"]["api_key"] == ""
    sweep = Sweep(canaries.static_canaries())
    sweep.scan("dumpdata", "providers", out.getvalue())
    assert not sweep.findings, sweep.report()

    fixture = tmp_path / "providers.json"
    fixture.write_text(out.getvalue())
    ProviderConfig.objects.all().delete()
    call_command("loaddata", str(fixture), stdout=io.StringIO())
    loaded = ProviderConfig.objects.get(slug="oa")
    assert (loaded.api_key, loaded.extra_headers) == (key, header)
    assert ProviderConfig.objects.get(slug="keyless").api_key == ""

    # Under a key that cannot decrypt the dump, loading fails naming the field, never
    # storing the token as if it were the secret.
    ProviderConfig.objects.all().delete()
    settings.FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(b"another-key-0123456789abcdefghij").decode()
    ]
    with pytest.raises(DeserializationError, match=r"ProviderConfig\.api_key holds an encrypted"):
        call_command("loaddata", str(fixture), stdout=io.StringIO())
    assert not ProviderConfig.objects.exists()


def test_only_fernet_tokens_are_read_back_as_ciphertext(settings):
    from providers.fields import encrypt_value, is_fernet_token

    settings.FIELD_ENCRYPTION_KEYS = [FERNET_KEY]
    token = encrypt_value(PROVIDER_KEYS["oa"])
    assert is_fernet_token(token)
    for value in (PROVIDER_KEYS["oa"], "gAAAAA-not-base64!", "gAAAAAAA", token[:-4], ""):
        assert not is_fernet_token(value), value
    field = ProviderConfig._meta.get_field("api_key")
    assert field.to_python(token) == PROVIDER_KEYS["oa"]
    assert field.to_python("gAAAAA-typed-by-someone") == "gAAAAA-typed-by-someone"


# -- a password in the Redis URL ------------------------------------------------------------------
def test_a_redis_password_never_surfaces_when_redis_is_down(db, client, caplog):
    _, secret = ConsumerAPIKey.objects.create_key(name="program")
    down = f"redis://:{canaries.REDIS_PASSWORD}@127.0.0.1:6390/0"  # nothing listens here
    caches = {"default": {"BACKEND": "config.cache.PooledRedisCache", "LOCATION": down}}
    sweep = Sweep([canaries.Canary("redis password", down, canaries.REDIS_PASSWORD)])
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    with DebugLogs() as logs, override_settings(CACHES=caches, REDIS_URL=down):
        chat = post_json(
            client, "/v1/chat/completions", {"model": "m", "messages": HELLO}, **bearer
        )
        available = client.get("/api/models/available/", **bearer)
    assert chat.status_code == available.status_code == 503
    sweep.scan_response("v1", "chat with redis down", chat)
    sweep.scan_response("api", "models available with redis down", available)
    sweep.scan("logs", "project handler at DEBUG", logs.text())
    sweep.scan("logs", "caplog", caplog.text)
    assert "6390" in logs.text()  # the outage was logged, with the address but no password
    assert not sweep.findings, sweep.report()
