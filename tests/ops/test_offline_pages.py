"""No page of the project makes a browser reach another host: every src/href, CSS url() and
@import of every page (admin for a superuser, API docs, playground, dashboard, landing page)
and of the stylesheets they load points at this server. Swagger UI and ReDoc come from
drf-spectacular-sidecar's files."""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib import admin
from django.contrib.staticfiles import finders
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from providers.models import ProviderConfig
from tests.chat.helpers import model_create, openai_chain, selection_set
from usage.models import Budget, RateLimit

pytestmark = pytest.mark.django_db

URL_ATTRIBUTES = {"src", "href", "action", "srcset", "poster", "data", "formaction", "background"}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)""", re.IGNORECASE)
CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)""", re.IGNORECASE)


class References(HTMLParser):
    """Every URL a page's markup points at, with where it was found."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self.stylesheets: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if not value:
                continue
            if name in URL_ATTRIBUTES:
                for part in value.split(",") if name == "srcset" else [value]:
                    self.found.append((f"<{tag} {name}>", part.strip().split(" ")[0]))
            if name == "style":
                self.found += [(f"<{tag} style>", url) for url in css_urls(value)]
        if tag == "link" and "stylesheet" in (values.get("rel") or "") and values.get("href"):
            self.stylesheets.append(values["href"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.found += [("<style>", url) for url in css_urls(data)]


def css_urls(css: str) -> list[str]:
    return CSS_URL.findall(css) + CSS_IMPORT.findall(css)


def external(url: str) -> bool:
    """Whether a browser would fetch or open `url` from another host."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "javascript", "mailto", "blob", "about"):
        return False
    return bool(parts.netloc) and parts.hostname not in ("testserver",)


def stylesheet_text(url: str) -> str:
    path = urlsplit(url).path
    assert path.startswith("/static/"), url
    found = finders.find(path.removeprefix("/static/"))
    assert found, f"stylesheet {url} is not a static file of the project"
    with open(found, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def admin_pages() -> list[str]:
    """The index, every app index, and each registered model's list, add and change pages."""
    pages = [reverse("admin:index"), reverse("admin:password_change")]
    apps = set()
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        apps.add(meta.app_label)
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        if model_admin.has_add_permission(_Superuser()):
            pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            pages.append(
                reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
            )
    pages += [reverse("admin:app_list", args=[app]) for app in sorted(apps)]
    return pages


class _Superuser:
    """Enough of a request for has_add_permission (a superuser has every permission)."""

    class user:
        is_active = is_staff = is_superuser = True

        @staticmethod
        def has_perm(*args, **kwargs) -> bool:
            return True

        @staticmethod
        def has_perms(*args, **kwargs) -> bool:
            return True


def other_pages() -> list[str]:
    pages = [reverse("swagger-ui"), reverse("redoc"), "/playground/"]
    try:
        pages.append(reverse("admin:usage_dailyusage_dashboard"))
    except NoReverseMatch:
        pages.append("/admin/usage/dailyusage/dashboard/")
    try:
        resolve("/")  # the landing page, once there is one
        pages.append("/")
    except Resolver404:
        pass
    return pages


@pytest.fixture
def populated(openai_fake):
    primary, fallback = openai_chain(openai_fake)
    selection_set("walked", primary, (fallback,))
    model_create(primary.provider, "text-embedding-3-small", kind="embedding")
    Budget.objects.create(name="walk", scope_type="global", period="daily", limit_usd=5)
    RateLimit.objects.create(scope_type="service", scope_value="walked", requests_per_minute=5)
    from providers.consumers import consumer_key_create

    consumer_key_create(name="walk")


def test_no_page_references_another_host(admin_client, populated):
    offending: list[str] = []
    checked_css: set[str] = set()
    # Links to what staff entered (a provider's base URL, linked in its list) are data, shown
    # as such: the browser loads nothing from them.
    data_hosts = {urlsplit(p.base_url).netloc for p in ProviderConfig.objects.all()}
    pages = admin_pages() + other_pages()
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, (page, response.status_code)
        parser = References()
        parser.feed(response.content.decode())
        offending += [
            f"{page}: {where} {url}"
            for where, url in parser.found
            if external(url) and not (where == "<a href>" and urlsplit(url).netloc in data_hosts)
        ]
        for sheet in parser.stylesheets:
            url = urljoin(f"http://testserver{page}", sheet)
            if external(url) or url in checked_css:
                continue
            checked_css.add(url)
            offending += [
                f"{page}: stylesheet {sheet}: {ref}"
                for ref in css_urls(stylesheet_text(url))
                if external(ref)
            ]
    assert len(pages) > 30
    assert not offending, "\n".join(offending)


def test_api_docs_load_their_files_from_this_server(admin_client):
    swagger = admin_client.get(reverse("swagger-ui")).content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in swagger
    assert '"validatorUrl": null' in swagger  # no badge fetched from validator.swagger.io
    redoc = admin_client.get(reverse("redoc")).content.decode()
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in redoc
    assert "fonts.googleapis.com" not in redoc
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_the_scanner_sees_external_references():
    parser = References()
    parser.feed(
        '<link rel="stylesheet" href="https://cdn.example/x.css"><img src="//cdn.example/i.png">'
        '<style>@import "https://fonts.example/f.css"; b{background:url(/static/ok.png)}</style>'
        '<div style="background: url(https://img.example/a.png)"></div><a href="/admin/">ok</a>'
    )
    assert sorted(url for _, url in parser.found if external(url)) == [
        "//cdn.example/i.png",
        "https://cdn.example/x.css",
        "https://fonts.example/f.css",
        "https://img.example/a.png",
    ]
