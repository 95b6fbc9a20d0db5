"""The one consumer-key admin: the library's own is gone, the secret is shown once in its own
block with a copy button, and a new key belongs to the user who creates it."""

import re

import pytest
from django.contrib import admin
from rest_framework_api_key.models import APIKey

from providers.consumers import consumer_identity_from_key
from providers.models import ConsumerAPIKey

pytestmark = pytest.mark.django_db


def test_the_librarys_own_api_key_admin_is_not_registered(client, superuser):
    assert not admin.site.is_registered(APIKey)
    assert admin.site.is_registered(ConsumerAPIKey)
    client.force_login(superuser)
    index = client.get("/admin/").content.decode()
    assert "/admin/rest_framework_api_key/" not in index
    assert "/admin/providers/consumerapikey/" in index
    assert client.get("/admin/rest_framework_api_key/apikey/add/").status_code == 404


def test_owner_defaults_to_the_creating_user(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/providers/consumerapikey/add/")
    assert page.context["adminform"].form.initial["owner"] == superuser.pk
    assert re.search(rf'<option value="{superuser.pk}" selected>', page.content.decode())


def test_the_secret_is_shown_once_in_its_own_block_with_a_copy_button(client, superuser):
    client.force_login(superuser)
    response = client.post(
        "/admin/providers/consumerapikey/add/",
        {"name": "ci", "owner": superuser.pk, "allowed_services": "", "allowed_models": ""},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    api_key = ConsumerAPIKey.objects.get(name="ci")
    assert api_key.owner == superuser
    html = response.content.decode()
    block = re.search(r'<code id="consumer-key-secret"[^>]*>([^<]+)</code>', html)
    assert block is not None
    secret = block.group(1).strip()
    assert consumer_identity_from_key(secret) is not None
    assert html.count(secret) == 1  # in the block only, not also in a banner sentence
    assert 'data-copy-target="consumer-key-secret"' in html
    assert "providers/copy_secret.js" in html
    # Not carried in a message to the next page, and never shown again.
    assert not list(response.wsgi_request._messages)
    for url in (
        "/admin/providers/consumerapikey/",
        f"/admin/providers/consumerapikey/{api_key.pk}/change/",
    ):
        assert secret not in client.get(url).content.decode()
