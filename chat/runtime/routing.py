"""Routing within a model group: which member serves this call, and in what order the others
stand in.

Per call the router reads every member's shared state in one pipelined round trip (calls in
flight, latency moving average, this minute's requests and tokens), orders the members by the
group's strategy, and the call tries them in that order (then the selection's fallbacks; a
fallback that is a group is routed the same way, by its own router, when the call reaches it):

- weighted: one member drawn at random in proportion to its weight, the others by weight;
- least_busy: fewest calls in flight first;
- lowest_latency: lowest moving average of latency first (a member with no sample yet is
  tried first, so it gets one);
- most_headroom: most of the per-minute request and token quota left first.

Whatever the strategy, a member whose quota for this minute is used up (rpm or tpm as staff
entered them from the provider contract) goes to the end, so the router steers away from it
before the provider answers 429; a member whose provider's circuit is open goes after the
healthy ones (the circuit breaker then skips it, and its half-open probe restores it).

State in Redis, per member (keyed by ModelConfig id, namespaced by the cache's key prefix):
- `inflight`: a sorted set of attempt ids scored by the moment they stop counting (start plus
  the call's total time budget), so a worker killed mid-call leaks nothing for longer than that;
- `latency`: the moving average (EWMA, alpha ROUTING_LATENCY_ALPHA) of successful attempts'
  latency in milliseconds (time to first token for streams);
- `m:<minute>`: a hash of this minute's requests and tokens (fixed window, like
  usage.ratelimits; tokens are the estimate, corrected to the actual usage afterwards).
Claiming a member and releasing it are one pipelined write each. The state is advisory: if
Redis fails, the router orders by the static data (weights, stored order) and the call goes on.
"""

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache

from config.generation_cache import cache_errors
from config.outages import outage_log
from providers.resolution import ResolvedGroup, ResolvedMember

logger = logging.getLogger(__name__)

_WINDOW = 60
_LATENCY_TTL = 3600

# SystemRandom is not needed: the draw spreads load, it guards nothing.
_random = random.Random()  # noqa: S311


@dataclass(slots=True)
class MemberState:
    in_flight: int = 0
    latency_ms: float | None = None
    requests: int = 0
    tokens: int = 0


@dataclass(slots=True)
class Claim:
    """An attempt counted against a member, to release when the attempt is recorded."""

    member: ResolvedMember
    attempt_id: str
    window_key: str
    tokens: int
    latency_ms: float | None


@dataclass(slots=True)
class RouteInfo:
    """Why a member stood where it did: recorded on each attempt's UsageRecord."""

    group: str
    strategy: str
    rank: int
    reason: str
    state: dict[str, Any] = field(default_factory=dict)

    def as_record(self, model_string: str) -> dict[str, Any]:
        return {
            "group": self.group,
            "strategy": self.strategy,
            "member": model_string,
            "rank": self.rank,
            "reason": self.reason,
            **self.state,
        }


def _client() -> Any | None:
    """The shared cache's own redis client (same pool), or None without Redis."""
    inner = getattr(cache, "_cache", None)
    get_client = getattr(inner, "get_client", None)
    if get_client is None:
        return None
    return get_client(write=True)


def _base(model_id: int) -> str:
    prefix = settings.CACHES.get("default", {}).get("KEY_PREFIX", "")
    return f"{prefix}:route:{model_id}"


def _minute(now: float) -> int:
    return int(now // _WINDOW) * _WINDOW


def headroom(member: ResolvedMember, state: MemberState) -> float | None:
    """The smaller fraction of the member's request and token quotas left this minute; None
    when it has no quota."""
    fractions = []
    if member.rpm_limit:
        fractions.append(1 - state.requests / member.rpm_limit)
    if member.tpm_limit:
        fractions.append(1 - state.tokens / member.tpm_limit)
    return min(fractions) if fractions else None


def quota_full(member: ResolvedMember, state: MemberState, tokens: int) -> bool:
    """Whether one more call of `tokens` would pass the member's quota this minute."""
    if member.rpm_limit and state.requests + 1 > member.rpm_limit:
        return True
    return bool(member.tpm_limit and state.tokens + tokens > member.tpm_limit)


class Router:
    """The routing of one call through one group."""

    def __init__(self, group: ResolvedGroup) -> None:
        self.group = group
        self.states: dict[int, MemberState] = {}
        self._failed = False

    def _redis(self, operation: str) -> Any | None:
        if self._failed:
            return None
        try:
            return _client()
        except cache_errors() as exc:  # pragma: no cover - the pool is built lazily
            self._fail(operation, exc)
            return None

    def _fail(self, operation: str, exc: BaseException) -> None:
        self._failed = True
        outage_log(
            logger,
            logging.WARNING,
            "Cache unavailable: routing state of group %s not %s",
            self.group.name,
            operation,
            exc=exc,
        )

    def read(self) -> None:
        """Every member's state, in one pipelined round trip."""
        client = self._redis("read")
        members = self.group.members
        if client is None:
            self.states = {m.model.model_id: MemberState() for m in members}
            return
        now = time.time()
        window = _minute(now)
        pipe = client.pipeline(transaction=False)
        for member in members:
            base = _base(member.model.model_id)
            pipe.zcount(f"{base}:inflight", now, "+inf")
            pipe.get(f"{base}:latency")
            pipe.hmget(f"{base}:m:{window}", "r", "t")
        try:
            values = pipe.execute()
        except cache_errors() as exc:
            self._fail("read", exc)
            self.states = {m.model.model_id: MemberState() for m in members}
            return
        for index, member in enumerate(members):
            in_flight, latency, (requests, tokens) = values[3 * index : 3 * index + 3]
            self.states[member.model.model_id] = MemberState(
                in_flight=int(in_flight or 0),
                latency_ms=float(latency) if latency is not None else None,
                requests=int(requests or 0),
                tokens=int(tokens or 0),
            )

    def order(
        self, *, tokens: int, circuit_open: set[str] | frozenset[str] = frozenset()
    ) -> list[tuple[ResolvedMember, RouteInfo]]:
        """The members in the order to try them, each with why it stands there."""
        strategy = self.group.strategy
        members = list(self.group.members)
        states = self.states

        def state(member: ResolvedMember) -> MemberState:
            return states.get(member.model.model_id) or MemberState()

        ranked = self._by_strategy(strategy, members, state)
        healthy, full, opened = [], [], []
        for member in ranked:
            if member.model.provider_slug in circuit_open:
                opened.append(member)
            elif quota_full(member, state(member), tokens):
                full.append(member)
            else:
                healthy.append(member)
        ordered: list[tuple[ResolvedMember, RouteInfo]] = []
        for member in healthy + full + opened:
            rank = len(ordered)
            if member in full:
                reason = "quota_full"
            elif member in opened:
                reason = "circuit_open"
            else:
                reason = strategy if rank == 0 else "failover"
            member_state = state(member)
            info = RouteInfo(
                group=self.group.name,
                strategy=strategy,
                rank=rank,
                reason=reason,
                state={
                    "in_flight": member_state.in_flight,
                    "latency_ms": None
                    if member_state.latency_ms is None
                    else round(member_state.latency_ms, 1),
                    "headroom": _rounded(headroom(member, member_state)),
                },
            )
            ordered.append((member, info))
        return ordered

    @staticmethod
    def _by_strategy(
        strategy: str, members: list[ResolvedMember], state: Any
    ) -> list[ResolvedMember]:
        """Members in the strategy's order; ties keep a random order so equal members share."""
        shuffled = members[:]
        _random.shuffle(shuffled)
        if strategy == "least_busy":
            return sorted(shuffled, key=lambda m: state(m).in_flight)
        if strategy == "lowest_latency":
            return sorted(
                shuffled,
                key=lambda m: -1.0 if state(m).latency_ms is None else state(m).latency_ms,
            )
        if strategy == "most_headroom":
            return sorted(
                shuffled,
                key=lambda m: (
                    -(h if (h := headroom(m, state(m))) is not None else 1.0),
                    state(m).in_flight,
                ),
            )
        return _weighted(members)

    # -- claims -----------------------------------------------------------------------------
    def claim(self, member: ResolvedMember, *, attempt_id: str, tokens: int) -> Claim:
        """Count an attempt on `member`: one in flight, one request and `tokens` this minute."""
        now = time.time()
        base = _base(member.model.model_id)
        window_key = f"{base}:m:{_minute(now)}"
        state = self.states.get(member.model.model_id) or MemberState()
        claim = Claim(member, attempt_id, window_key, tokens, state.latency_ms)
        client = self._redis("written")
        if client is None:
            return claim
        budget = float(settings.RUNTIME_TOTAL_TIMEOUT_SECONDS)
        pipe = client.pipeline(transaction=False)
        pipe.zadd(f"{base}:inflight", {attempt_id: now + budget})
        pipe.zremrangebyscore(f"{base}:inflight", "-inf", now)
        pipe.expire(f"{base}:inflight", int(budget) + _WINDOW)
        pipe.hincrby(window_key, "r", 1)
        pipe.hincrby(window_key, "t", tokens)
        pipe.expire(window_key, 2 * _WINDOW)
        try:
            pipe.execute()
        except cache_errors() as exc:
            self._fail("written", exc)
        return claim

    def release(self, claim: Claim, *, latency_ms: int | None, actual_tokens: int | None) -> None:
        """The attempt ended: no longer in flight; its latency (when it succeeded) joins the
        moving average and its token count is corrected to the actual usage."""
        client = self._redis("written")
        if client is None:
            return
        base = _base(claim.member.model.model_id)
        pipe = client.pipeline(transaction=False)
        pipe.zrem(f"{base}:inflight", claim.attempt_id)
        if latency_ms is not None:
            alpha = float(settings.ROUTING_LATENCY_ALPHA)
            previous = claim.latency_ms
            average = latency_ms if previous is None else previous + alpha * (latency_ms - previous)
            pipe.set(f"{base}:latency", f"{average:.3f}", ex=_LATENCY_TTL)
        if actual_tokens is not None and actual_tokens != claim.tokens:
            pipe.hincrby(claim.window_key, "t", actual_tokens - claim.tokens)
        try:
            pipe.execute()
        except cache_errors() as exc:
            self._fail("written", exc)


def _weighted(members: list[ResolvedMember]) -> list[ResolvedMember]:
    """One member drawn by weight first; the others by weight, heaviest first."""
    weights = [max(0, m.weight) for m in members]
    total = sum(weights)
    if total <= 0:
        return members[:]
    point = _random.random() * total
    chosen = max(i for i, w in enumerate(weights) if w > 0)
    for index, weight in enumerate(weights):
        if point < weight:
            chosen = index
            break
        point -= weight
    rest = sorted(
        (m for i, m in enumerate(members) if i != chosen), key=lambda m: -max(0, m.weight)
    )
    return [members[chosen], *rest]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
