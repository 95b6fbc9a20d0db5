"""What the leak sweep (test_leak_sweep.py) drives: the providers and their failure modes, every
call surface, every admin page, every GET of the OpenAPI document, and the stored state (tables,
sessions, cache, email, beat's task arguments, dumpdata), each scanned as it is produced."""

import io
import json
import socket
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from chat.models import Conversation, StoredResponse
from config.celery import app as celery_app
from providers.models import ModelGroup, ProviderConfig
from tests.security import sweep as canaries
from tests.security.sweep import PROVIDER_KEYS, Sweep

HELLO = [{"role": "user", "content": "hello"}]
# "ok" last: a live model list is cached on success, and the failures must reach the fake.
MODES = ("auth_echo", "401", "500", "malformed", "ok")


@dataclass(frozen=True)
class Spec:
    slug: str
    kind: str
    fake: str  # fixture name
    chat_model: str
    embedding_model: str | None


SPECS = (
    Spec("oa", "openai", "openai_fake", "gpt-4o-mini", "text-embedding-3-small"),
    Spec("an", "anthropic", "anthropic_fake", "claude-haiku-4-5", None),
    Spec("ge", "gemini", "gemini_fake", "gemini-2.5-flash", "gemini-embedding-001"),
    Spec("oc", "openai_compatible", "compat_fake", "gpt-4o-mini", "text-embedding-3-small"),
)


@dataclass
class Planted:
    sweep: Sweep
    fakes: dict[str, Any]
    consumer_secret: str
    staff_token: str
    wire: dict[str, list[str]] = field(default_factory=dict)

    def set_mode(self, slug: str, mode: str) -> None:
        """Keep what the fake received (the wire), then arm it for `mode`."""
        fake = self.fakes[slug]
        self.wire.setdefault(slug, []).extend(
            json.dumps([r.headers, r.query, r.path]) for r in fake.requests
        )
        fake.reset()
        fake.api_key = PROVIDER_KEYS[slug]
        if mode == "auth_echo":  # our key is refused, and echoed back as OpenAI does
            fake.api_key = "the-fake-expects-another-key"
        elif mode in ("401", "500"):
            fake.faults.status = int(mode)
        elif mode == "malformed":
            fake.faults.malformed_json = True


def post_json(client: Client, url: str, body: Any, **headers: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def call_surfaces(
    spec: Spec, messages_url: str, staff: Client, program: Client, bearer: dict[str, str]
) -> Iterator[tuple[str, Any]]:
    """Each way a call reaches the provider: (surface, response)."""
    chat = {"model": f"{spec.slug}:{spec.chat_model}", "messages": HELLO}
    yield "v1", post_json(program, "/v1/chat/completions", chat, **bearer)
    yield "v1", post_json(program, "/v1/chat/completions", {**chat, "stream": True}, **bearer)
    response = {"model": chat["model"], "input": "hello", "instructions": "be brief"}
    yield "v1", post_json(program, "/v1/responses", response, **bearer)
    yield "v1", post_json(program, "/v1/responses", {**response, "stream": True}, **bearer)
    if spec.embedding_model:
        embed = {"model": f"{spec.slug}:{spec.embedding_model}", "input": ["hello"]}
        yield "v1", post_json(program, "/v1/embeddings", embed, **bearer)
    messages = {**chat, "max_tokens": 64}
    yield "anthropic", post_json(program, "/anthropic/v1/messages", messages, **bearer)
    streamed = {**messages, "stream": True}
    yield "anthropic", post_json(program, "/anthropic/v1/messages", streamed, **bearer)
    count = "/anthropic/v1/messages/count_tokens"
    yield "anthropic", post_json(program, count, chat, **bearer)
    yield "native", post_json(program, messages_url, {"content": "hi"}, **bearer)
    yield "native", post_json(program, f"{messages_url}?stream=true", {"content": "hi"}, **bearer)
    yield "playground", post_json(staff, reverse("playground-stream"), chat)
    pk = ProviderConfig.objects.get(slug=spec.slug).pk
    test_url = reverse("admin:providers_providerconfig_test_connection", args=[pk])
    yield "admin", staff.post(test_url, follow=True)
    yield "api", staff.post(f"/api/providers/{spec.slug}/test/")
    yield "api", staff.get(f"/api/providers/{spec.slug}/models/")


def drive_calls(planted: Planted, staff: Client, program: Client) -> None:
    """Every call surface, for every provider, in every mode."""
    sweep, bearer = planted.sweep, {"HTTP_AUTHORIZATION": f"Bearer {planted.consumer_secret}"}
    for spec in SPECS:
        service = f"{spec.slug}:{spec.chat_model}"
        created = post_json(program, "/api/conversations/", {"service": service}, **bearer)
        assert created.status_code == 201, created.content
        messages_url = f"/api/conversations/{created.json()['id']}/messages/"
        for mode in MODES:
            planted.set_mode(spec.slug, mode)
            where = f"{spec.slug}/{mode}"
            for surface, response in call_surfaces(spec, messages_url, staff, program, bearer):
                sweep.scan_response(surface, where, response)
                if response.status_code == 500:
                    sweep.findings.append(f"{surface}: {where}: answered a bare 500")
            out, err = io.StringIO(), io.StringIO()
            try:
                call_command("sync_models", "--provider", spec.slug, stdout=out, stderr=err)
            except CommandError as exc:
                sweep.scan("command", f"sync_models {where}", str(exc))
            sweep.scan("command", f"sync_models {where}", out.getvalue() + err.getvalue())
        planted.set_mode(spec.slug, "ok")
    drive_admin_actions(planted, staff)


def drive_admin_actions(planted: Planted, staff: Client) -> None:
    """The changelist's actions that call every selected provider, while every one fails."""
    changelist = reverse("admin:providers_providerconfig_changelist")
    selected = [str(pk) for pk in ProviderConfig.objects.values_list("pk", flat=True)]
    for mode in ("auth_echo", "500"):
        for slug in planted.fakes:
            planted.set_mode(slug, mode)
        for action in ("test_connection", "sync_models"):
            data = {"action": action, "_selected_action": selected}
            response = staff.post(changelist, data, follow=True)
            assert response.status_code == 200 and b"failed" in response.content, action
            planted.sweep.scan_response("admin", f"{action} action, all {mode}", response)
    for slug in planted.fakes:
        planted.set_mode(slug, "ok")


def admin_pages() -> list[str]:
    """Every named URL of every registered ModelAdmin (changelist, add, change, history, delete,
    password, dashboard, test connection...), for one row of each model and every provider
    (the rows that hold secrets; the other rows of a model render the same way)."""
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        urls.append(reverse("admin:app_list", args=[model._meta.app_label]))
        rows = None if model is ProviderConfig else 1
        pks = list(model._default_manager.values_list("pk", flat=True)[:rows])
        for pattern in model_admin.get_urls():
            arguments = len(getattr(pattern.pattern, "converters", {}))
            if not pattern.name or arguments > 1:
                continue
            name = f"admin:{pattern.name}"
            urls += [reverse(name, args=[pk]) for pk in pks] if arguments else [reverse(name)]
    return [*dict.fromkeys(urls), reverse("playground")]


def walk_admin(sweep: Sweep, staff: Client) -> list[str]:
    pages = admin_pages()
    for url in pages:
        response = staff.get(url)
        assert response.status_code in (200, 302, 403, 405), (url, response.status_code)
        sweep.scan_response("admin", url, response)
    return pages


# Where the values of the OpenAPI document's path parameters come from.
PATH_VALUES: dict[str, Callable[[], list[Any]]] = {
    "slug": lambda: list(ProviderConfig.objects.values_list("slug", flat=True)),
    "service": lambda: ["sweep"],
    "name": lambda: list(ModelGroup.objects.values_list("name", flat=True)) or ["none"],
    "model_id": lambda: ["sweep"],
    "id": lambda: list(Conversation.objects.values_list("pk", flat=True)),
    "response_id": lambda: list(StoredResponse.objects.values_list("pk", flat=True)),
}


def walk_api(sweep: Sweep, callers: dict[str, tuple[Client, dict[str, str]]]) -> set[str]:
    """Every GET of the OpenAPI document, for every caller, with every known parameter."""
    staff, headers = callers["session"]
    schema = staff.get("/api/schema/?format=json", **headers)
    sweep.scan_response("api", "/api/schema/", schema)
    sweep.scan_response("api", "/api/docs/", staff.get("/api/docs/", **headers))
    visited = set()
    for path, operations in schema.json()["paths"].items():
        if "get" not in operations:
            continue
        parameters = [
            p["name"] for p in operations["get"].get("parameters", []) if p["in"] == "path"
        ]
        assert all(p in PATH_VALUES for p in parameters), f"add a source of values for {path}"
        urls = [path]
        for parameter in parameters:
            urls = [
                u.replace(f"{{{parameter}}}", str(v))
                for u in urls
                for v in PATH_VALUES[parameter]()
            ]
        for who, (client, caller_headers) in callers.items():
            for url in urls:
                response = client.get(url, **caller_headers)
                assert response.status_code < 500, (who, url, response.status_code)
                sweep.scan_response("api", f"{who} {url}", response)
        visited.add(path)
    return visited


def stored_state(sweep: Sweep, since: float) -> None:
    """Every table's raw rows, sessions, the cache, email, beat's task arguments, dumpdata."""
    tables = canaries.table_dump()
    for table, rows in tables.items():
        sweep.scan("database", table, rows)
    models = apps.get_models(include_auto_created=True)
    assert {m._meta.db_table for m in models if m._meta.managed} <= set(tables)
    for key, payload in canaries.session_payloads():
        sweep.scan("session", key, payload)
    entries = list(canaries.cache_entries(since))
    for key, value in entries:
        sweep.scan("cache", key, key + value)
    assert entries, "the sweep saw nothing in the shared cache"
    for message in mail.outbox:
        sweep.scan("email", message.subject, message.message().as_string())
    for task in PeriodicTask.objects.all():
        sweep.scan("celery beat", task.name, f"{task.task} {task.args} {task.kwargs}")
    # Task results are never stored (no result backend), so they need no sweep of their own.
    assert celery_app.conf.task_ignore_result and not celery_app.conf.result_backend
    out, err = io.StringIO(), io.StringIO()
    call_command("dumpdata", stdout=out, stderr=err)
    sweep.scan("dumpdata", "all apps", out.getvalue() + err.getvalue())
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_encryption_keys", stdout=out, stderr=err)
    sweep.scan("command", "rotate_encryption_keys", out.getvalue() + err.getvalue())


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def exception_texts(error: BaseException) -> str:
    """str, repr, args and attributes of the error and of every exception chained to it, and
    the formatted traceback of the whole chain."""
    texts, seen, pending = [], set(), [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        pending += [current.__cause__, current.__context__]
    texts.append("".join(traceback.format_exception(error)))
    return "\n".join(texts)
