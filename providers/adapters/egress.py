"""Where a provider's key may be sent: the address policy, checked at save time and at connect.

A base URL is staff input, and the adapter sends the stored key to it. So an address is
refused when it could reach something that is not a provider:
- always: link-local (169.254.0.0/16, fe80::/10), the cloud metadata addresses (AWS's
  fd00:ec2::254 among them) and metadata host names (metadata.google.internal, ...);
- unless PROVIDER_ALLOWED_NETWORKS lists them: loopback, private, shared (100.64.0.0/10),
  unspecified and reserved addresses (local Ollama or vLLM are real uses, so the deployment
  may allow its own networks).

The check runs on the *resolved* addresses, so a name pointing at a metadata address is
refused too, and it runs again inside the HTTP transport every time a connection is opened
(`guarded_http_client`, over providers/adapters/transport.py), connecting to the very address
it checked: a name that resolved to a public address at save time and to 169.254.169.254
later (DNS rebinding) is caught there.
"""

import ipaddress
import socket
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import httpx2

from config.http_client import ObservedTransport
from providers.adapters.transport import GuardedURLLib3Transport

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NEVER_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)


class DestinationRefused(httpcore2.ConnectError):
    """A connection to an address the policy refuses. A ConnectError, so every SDK treats it
    as a connection failure; the adapters' base class finds it in the chain and maps it to
    ProviderDestinationRefusedError (not retryable)."""


@lru_cache(maxsize=16)
def parse_networks(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """The CIDRs of PROVIDER_ALLOWED_NETWORKS; raises ValueError naming a bad entry."""
    parsed = []
    for entry in networks:
        entry = entry.strip()
        if not entry:
            continue
        try:
            parsed.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"PROVIDER_ALLOWED_NETWORKS: {entry!r} is not a CIDR.") from None
    return tuple(parsed)


def configured_networks() -> tuple[str, ...]:
    """The deployment's PROVIDER_ALLOWED_NETWORKS. Read here, at connect time, so adapters
    built from plain settings that do not carry them still follow the deployment's policy."""
    from django.conf import settings

    return tuple(settings.PROVIDER_ALLOWED_NETWORKS)


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), which is where it goes."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def address_problem(address: str, allowed: Iterable[str]) -> str | None:
    """Why a key may not be sent to this IP address, or None if it may."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    ip = _embedded_ipv4(ip) or ip
    if any(ip in network for network in NEVER_NETWORKS):
        return (
            f"{ip} is a link-local or cloud metadata address; provider keys are never sent there."
        )
    if any(ip in network for network in parse_networks(tuple(allowed))):
        return None
    if ip.is_global and not ip.is_multicast:
        return None
    return (
        f"{ip} is a loopback, private or reserved address; list its network in "
        "PROVIDER_ALLOWED_NETWORKS to allow a provider there (for example a local Ollama)."
    )


def host_problem(host: str) -> str | None:
    host = host.strip().rstrip(".").lower()
    if host in METADATA_HOSTS:
        return f"{host} is a cloud metadata host name; provider keys are never sent there."
    return None


def resolved_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def base_url_destination_problem(url: str, allowed: Iterable[str]) -> str | None:
    """Why `url` may not receive a provider key, checked on the addresses it resolves to now.

    A name that does not resolve here cannot be judged (it may exist only where the workers
    run); it is accepted, and the connect-time check judges the address it resolves to then.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "The base URL is not a valid URL."
    if not host:
        return "The base URL has no host."
    if problem := host_problem(host):
        return problem
    try:
        addresses = resolved_addresses(host, port)
    except (OSError, UnicodeError):
        return None
    allowed = tuple(allowed)
    for address in addresses:
        if problem := address_problem(address, allowed):
            return f"The base URL's host resolves to {problem}"
    return None


def permitted_addresses(host: str, port: int, allowed: tuple[str, ...] | None) -> list[str]:
    """The addresses `host` resolves to that the policy permits (the new transport connects to
    one of these very addresses); raises DestinationRefused when there is none, ConnectError
    when the name does not resolve."""
    if problem := host_problem(host):
        raise DestinationRefused(problem)
    try:
        addresses = resolved_addresses(host, port)
    except (OSError, UnicodeError) as exc:
        raise httpcore2.ConnectError(f"Could not resolve the provider's host: {exc}") from exc
    allowed = allowed if allowed is not None else configured_networks()
    problems = [address_problem(address, allowed) for address in addresses]
    permitted = [a for a, p in zip(addresses, problems, strict=True) if p is None]
    if not permitted:
        raise DestinationRefused(next(p for p in problems if p))
    return permitted


class AsyncGuardedBackend(httpcore2.AnyIOBackend):
    """httpcore2's network backend for asyncio clients (the PydanticAI bridge's native models):
    the policy of `permitted_addresses`, the blocking resolution run in a worker thread."""

    def __init__(self, allowed: tuple[str, ...] | None) -> None:
        self.allowed = allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        import anyio.to_thread

        permitted = await anyio.to_thread.run_sync(permitted_addresses, host, port, self.allowed)
        last_error: Exception | None = None
        for address in permitted:
            try:
                return await super().connect_tcp(
                    address, port, timeout, local_address, socket_options or []
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error


def guarded_async_http_client(
    *, allowed: tuple[str, ...] | None, timeout: float
) -> httpx2.AsyncClient:
    """The asyncio twin of `guarded_http_client` (same policy, no proxies, no redirects).

    Connections are not kept alive (`Connection: close`): a connection belongs to the event
    loop that opened it, and Django code runs each agent in a loop of its own (`async_to_sync`),
    so a kept connection would be reused, or closed, from a loop that is gone."""
    transport = httpx2.AsyncHTTPTransport(trust_env=False)
    transport._pool._network_backend = AsyncGuardedBackend(allowed)
    return httpx2.AsyncClient(
        transport=transport,
        timeout=timeout,
        trust_env=False,
        follow_redirects=False,
        headers={"Connection": "close"},
        limits=httpx2.Limits(max_connections=100, max_keepalive_connections=0),
    )


def guarded_http_client(
    *, allowed: tuple[str, ...] | None, timeout: float, client_class: type = httpx2.Client
) -> httpx2.Client:
    """An httpx2 client whose every connection passes the address policy.

    Its transport sends over urllib3 (providers/adapters/transport.py: less CPU per call than
    httpx2's own), resolving and checking the host at every connect. Environment proxies are
    not used (trust_env=False): through a proxy the policy could not see where the key goes.
    Redirects are not followed: an SDK API never needs one.
    """
    transport = GuardedURLLib3Transport(
        resolve=lambda host, port: permitted_addresses(host, port, allowed), max_keepalive=100
    )
    return client_class(
        transport=ObservedTransport(transport),  # request id header, tracing span
        timeout=timeout,
        trust_env=False,
        follow_redirects=False,
    )
