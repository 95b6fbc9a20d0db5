"""The page at `/` (what *View site* opens) and how `/api/` authentication is explained."""

import re

import pytest
import yaml


def test_landing_links_admin_docs_playground_and_health(client):
    response = client.get("/")  # no django_db mark: any query would fail the test
    assert response.status_code == 200
    html = response.content.decode()
    hrefs = set(re.findall(r'href="([^"]+)"', html))
    assert {"/admin/", "/api/docs/", "/api/schema/", "/playground/", "/healthz"} <= hrefs
    assert "Authorization: Bearer &lt;key&gt;" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from another host


@pytest.mark.django_db
def test_view_site_in_the_admin_opens_the_landing_page(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert re.search(r'<a href="/">View site</a>', html)
    assert admin_client.get("/").status_code == 200


@pytest.mark.django_db
def test_api_docs_explain_authentication(admin_client):
    schema = yaml.safe_load(admin_client.get("/api/schema/").content)
    description = schema["info"]["description"]
    for needed in ("Authorization: Bearer <key>", "X-Api-Key", "Authorization: Token <token>"):
        assert needed in description
    assert "create_staff_token" in description


def test_readme_explains_api_authentication():
    from django.conf import settings

    readme = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Authenticating to the APIs", 1)[1].split("\n## ", 1)[0]
    for needed in ("Authorization: Bearer", "X-Api-Key", "Authorization: Token", "session"):
        assert needed in section
