"""The OpenAPI document and Swagger UI describe every providers API operation."""

import pytest

pytestmark = pytest.mark.django_db

PREFIXES = ("/api/providers/", "/api/models/", "/api/selections/")


def test_every_operation_has_a_summary_description_and_error_responses(anon_client):
    response = anon_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith(PREFIXES)
        for method, operation in item.items()
    ]
    assert len(operations) == 15
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert len(operation.get("description", "")) > 40, where
        assert {"401", "403"} <= set(operation["responses"]), where
        assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
        if method != "delete":  # 204: nothing to show
            assert _has_example(operation, success=True), f"{where}: no response example"
        if method in ("post", "put", "patch") and "requestBody" in operation:
            content = operation["requestBody"]["content"].values()
            assert any("examples" in c for c in content), f"{where}: no request example"
    assert "ConsumerKey" in schema["components"]["securitySchemes"]


def test_swagger_ui_is_served(anon_client):
    response = anon_client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def _has_example(operation: dict, *, success: bool) -> bool:
    return any(
        "examples" in content
        for code, response in operation["responses"].items()
        if code.startswith("2") == success
        for content in response.get("content", {}).values()
    )
