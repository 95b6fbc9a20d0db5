"""Unknown paths under the APIs answer JSON in each API's error shape; elsewhere HTML."""

import json

import pytest
from django.test import override_settings

from config import views


@pytest.mark.django_db
def test_unknown_api_path_is_json_in_the_project_shape(client):
    response = client.get("/api/providers//nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_unknown_v1_path_is_json_in_openai_shape(client):
    response = client.get("/v1/no-such-endpoint")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "not_found"


@pytest.mark.django_db
def test_unknown_page_elsewhere_stays_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "application/json" not in response["Content-Type"]


def test_server_error_is_json_under_the_apis(rf):
    response = views.server_error(rf.get("/api/models/"))
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "internal_error"
    v1 = views.server_error(rf.get("/v1/chat/completions"))
    assert json.loads(v1.content)["error"]["type"] == "server_error"


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_server_error_elsewhere_stays_html(rf):
    assert views.server_error(rf.get("/admin/")).status_code == 500
