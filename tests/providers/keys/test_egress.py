"""The egress policy: which addresses may receive a provider key, at save time and at connect
time (DNS rebinding included), through the real SDKs against the fakes."""

import socket

import pytest

from providers.adapters.egress import (
    address_problem,
    base_url_destination_problem,
    host_problem,
    parse_networks,
)
from providers.adapters.errors import ProviderDestinationRefusedError
from providers.adapters.registry import adapter_class_for
from providers.adapters.types import ProviderSettings

LOOPBACK = ("127.0.0.0/8", "::1/128")


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.0.1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    ],
)
def test_link_local_and_metadata_addresses_are_refused_even_when_listed(address):
    allowed = ("0.0.0.0/0", "::/0", "169.254.0.0/16", "fc00::/7", "fe80::/10")
    problem = address_problem(address, allowed)
    assert problem is not None and "metadata" in problem


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.1.10", "172.16.5.5", "::1", "100.100.100.200", "0.0.0.0"],
)
def test_private_loopback_and_shared_addresses_need_the_setting(address):
    assert "PROVIDER_ALLOWED_NETWORKS" in address_problem(address, ())
    assert address_problem(address, ("0.0.0.0/0", "::/0")) is None


def test_public_addresses_pass_and_listing_one_network_allows_only_it():
    assert address_problem("8.8.8.8", ()) is None
    assert address_problem("2606:4700::1111", ()) is None
    assert address_problem("10.20.0.5", ("10.20.0.0/16",)) is None
    assert address_problem("10.21.0.5", ("10.20.0.0/16",)) is not None


@pytest.mark.parametrize(
    "host", ["metadata.google.internal", "METADATA.google.internal.", "metadata", "instance-data"]
)
def test_metadata_host_names_are_refused_by_name(host):
    assert host_problem(host) is not None
    assert base_url_destination_problem(f"http://{host}/v1", ("0.0.0.0/0",)) is not None


def test_a_bad_cidr_in_the_setting_is_named():
    with pytest.raises(ValueError, match="not-a-cidr"):
        parse_networks(("10.0.0.0/8", "not-a-cidr"))


def test_save_time_check_judges_the_resolved_address(monkeypatch):
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "sneaky.example":
            return real("169.254.169.254", *args, **kwargs)
        if host == "decimal.example":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert "169.254.169.254" in base_url_destination_problem("https://sneaky.example/v1", ())
    assert base_url_destination_problem("http://decimal.example/v1", ()) is not None
    assert base_url_destination_problem("http://decimal.example/v1", LOOPBACK) is None
    # Obfuscated IPv4 forms resolve to what they mean.
    assert base_url_destination_problem("http://2130706433/v1", ()) is not None
    # A name that does not resolve here is judged when a connection is opened.
    assert base_url_destination_problem("https://nowhere.invalid/v1", ()) is None


def _settings(kind, fake, *, key, allowed, base_url=None):
    url = base_url or (f"{fake.url}/v1" if kind.startswith("openai") else fake.url)
    return ProviderSettings(
        kind=kind, slug="t", api_key=key, base_url=url, timeout=2, allowed_networks=allowed
    )


@pytest.mark.parametrize(
    ("kind", "fake_name"),
    [
        ("openai_compatible", "openai_fake"),
        ("anthropic", "anthropic_fake"),
        ("gemini", "gemini_fake"),
    ],
)
def test_connect_time_check_refuses_loopback_unless_allowed(kind, fake_name, request):
    fake = request.getfixturevalue(fake_name)
    adapter = adapter_class_for(kind)(_settings(kind, fake, key=fake.api_key, allowed=()))
    with pytest.raises(ProviderDestinationRefusedError) as caught:
        adapter.list_models()
    assert not caught.value.retryable
    assert "PROVIDER_ALLOWED_NETWORKS" in caught.value.staff_summary()
    assert fake.requests == []  # nothing, key included, reached the address
    allowed = adapter_class_for(kind)(_settings(kind, fake, key=fake.api_key, allowed=LOOPBACK))
    assert allowed.list_models()


def test_dns_rebinding_is_caught_when_connecting(monkeypatch, openai_fake):
    """The name resolved to a public address when saved, and to metadata when called."""
    real = socket.getaddrinfo
    answers = {"rebind.example": "8.8.8.8"}

    def resolve(host, *args, **kwargs):
        return real(answers.get(host, host), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = openai_fake.url.rsplit(":", 1)[1]
    url = f"http://rebind.example:{port}/v1"
    assert base_url_destination_problem(url, ()) is None
    answers["rebind.example"] = "169.254.169.254"
    adapter = adapter_class_for("openai")(
        _settings("openai", openai_fake, key=openai_fake.api_key, allowed=(), base_url=url)
    )
    with pytest.raises(ProviderDestinationRefusedError, match="metadata"):
        adapter.list_models()


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch, openai_fake):
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1" if host == "fake.example" else host, *a, **k),
    )
    port = openai_fake.url.rsplit(":", 1)[1]
    settings = _settings(
        "openai",
        openai_fake,
        key=openai_fake.api_key,
        allowed=LOOPBACK,
        base_url=f"http://fake.example:{port}/v1",
    )
    assert adapter_class_for("openai")(settings).list_models()
    assert openai_fake.last_request().headers["host"] == f"fake.example:{port}"


def test_adapters_ignore_environment_proxies(monkeypatch, openai_fake):
    monkeypatch.setenv("HTTP_PROXY", "http://169.254.169.254:3128")
    monkeypatch.setenv("ALL_PROXY", "http://169.254.169.254:3128")
    settings = _settings("openai", openai_fake, key=openai_fake.api_key, allowed=LOOPBACK)
    assert adapter_class_for("openai")(settings).list_models()
