"""One registry of error codes (config.error_codes.ErrorCode): every error class of the project
takes its code from it, each code has one status and meaning, and the API schema lists them."""

import importlib

import pytest
from django.apps import apps

from config.error_codes import ErrorCode
from config.errors import ApplicationError
from providers.adapters.errors import ModelNotFoundError, ProviderError


def all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *all_subclasses(sub)}
    return found


def import_project_modules() -> None:
    """Import every module of the project's apps and config, so that no error class hides in a
    module nothing imported yet (adapters load lazily)."""
    import pkgutil

    import config

    packages = [config] + [
        importlib.import_module(app.name)
        for app in apps.get_app_configs()
        if app.name.split(".")[0] in {"config", "providers", "usage", "chat"}
    ]
    for package in packages:
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            if ".migrations" in info.name or info.name.endswith((".wsgi", ".asgi")):
                continue
            if ".settings." in info.name or info.name.endswith(".gunicorn_conf"):
                continue
            importlib.import_module(info.name)


def test_every_application_error_has_a_code_of_the_registry():
    import_project_modules()
    classes = {
        cls
        for cls in {ApplicationError, *all_subclasses(ApplicationError)}
        if cls.__module__.split(".")[0] in {"config", "providers", "usage", "chat"}
    }
    assert len(classes) > 30
    outside = {
        f"{c.__module__}.{c.__qualname__}": c.code for c in classes if c.code not in set(ErrorCode)
    }
    assert outside == {}, "add these codes to config.error_codes.ErrorCode"


def test_a_code_outside_the_registry_is_caught():
    """The check above can fail: a class declaring a code of its own is found by the walk."""

    class Stray(ApplicationError):
        code = "some_new_code"

    assert Stray in all_subclasses(ApplicationError)
    assert Stray.code not in set(ErrorCode)


def test_each_code_is_one_thing_and_its_classes_answer_its_status():
    import_project_modules()
    assert len({code.value for code in ErrorCode}) == len(ErrorCode)
    for cls in {ApplicationError, *all_subclasses(ApplicationError)}:
        if cls.code in set(ErrorCode) and cls.__module__.split(".")[0] != "tests":
            assert cls.http_status == ErrorCode(cls.code).http_status, cls
        assert all(code.meaning for code in ErrorCode)


def test_a_model_the_provider_does_not_know_is_not_the_callers_unknown_model():
    assert ModelNotFoundError.code == ErrorCode.UPSTREAM_MODEL_NOT_FOUND
    assert ModelNotFoundError.http_status == 502
    assert ErrorCode.MODEL_NOT_FOUND.http_status == 404
    assert issubclass(ModelNotFoundError, ProviderError)


def test_codes_are_plain_strings_on_the_wire():
    error = ModelNotFoundError("x", provider="p")
    assert error.as_dict()["error"]["code"] == "upstream_model_not_found"
    assert f"{error.code}" == "upstream_model_not_found"


@pytest.mark.django_db
def test_the_schema_documents_every_code_with_its_status_and_meaning(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schemas = response.json()["components"]["schemas"]
    enum = schemas["ErrorCodeEnum"]
    assert enum["enum"] == [code.value for code in ErrorCode]
    code = schemas["ErrorBody"]["properties"]["code"]
    assert {"$ref": "#/components/schemas/ErrorCodeEnum"} in code["allOf"]
    for member in ErrorCode:
        assert f"`{member.value}` - HTTP {member.http_status}: {member.meaning}" in (
            enum.get("description", "") + code.get("description", "")
        )
