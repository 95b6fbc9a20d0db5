"""Model groups: routing by strategy with the real runtime, Redis and the OpenAI fake.

Each group has two deployments of one logical model on two providers (`east`, `west`) that
point at the same fake; the fake tells them apart by model id (east serves gpt-4o-mini, west
gpt-4.1) and can make one of them answer 429 past a quota or fail outright."""

import time
from collections import Counter

import openai
import pytest
from django.core.cache import cache

from chat.runtime.routing import Router, _base
from chat.services import chat_completion_run, chat_completion_stream
from providers.adapters.types import ChatRequest, Message
from providers.models import ConsumerAPIKey, ModelGroup, ModelGroupMember
from providers.selectors import model_selection_resolve
from tests.chat.helpers import model_create, provider_create, selection_set
from tests.fixtures import requires_redis
from usage.models import UsageRecord

pytestmark = [pytest.mark.django_db, requires_redis]

EAST, WEST = "east:gpt-4o-mini", "west:gpt-4.1"


@pytest.fixture
def deployments(openai_fake):
    east = model_create(provider_create(openai_fake, slug="east", kind="openai"), "gpt-4o-mini")
    west = model_create(provider_create(openai_fake, slug="west", kind="openai"), "gpt-4.1")
    return east, west


def group_create(name, strategy, members, **selection):
    group = ModelGroup.objects.create(name=name, strategy=strategy)
    for position, (model, options) in enumerate(members):
        ModelGroupMember.objects.create(
            group=group, model_config=model, position=position, **options
        )
    return group


def ask(model="group:pool", text="hi"):
    return chat_completion_run(
        request=ChatRequest(model=model, messages=(Message(role="user", content=text),))
    )


def served_counts(n, model="group:pool"):
    return Counter(ask(model).served_by.model_string for _ in range(n))


def test_weighted_shares_within_five_percent_over_2000_calls(deployments, openai_fake):
    """2,000 whole calls through the runtime, the ledger and the fake: the shares served
    follow the weights 3:1 within 5 points, and every call left one record with its route."""
    east, west = deployments
    group_create("pool", "weighted", [(east, {"weight": 3}), (west, {"weight": 1})])
    counts = served_counts(2000)
    assert abs(counts[EAST] / 2000 - 0.75) < 0.05
    assert abs(counts[WEST] / 2000 - 0.25) < 0.05
    assert openai_fake.served == {"gpt-4o-mini": counts[EAST], "gpt-4.1": counts[WEST]}
    assert UsageRecord.objects.filter(outcome="ok", route__group="pool").count() == 2000


def test_weighted_router_decisions_follow_the_weights(deployments):
    east, west = deployments
    group_create("pool", "weighted", [(east, {"weight": 3}), (west, {"weight": 1})])
    group = model_selection_resolve(name="group:pool").group
    chosen = Counter()
    for _ in range(2000):
        router = Router(group)
        router.read()
        member, info = router.order(tokens=10)[0]
        assert info.reason == "weighted" and info.rank == 0
        chosen[member.model.model_string] += 1
    assert abs(chosen[EAST] / 2000 - 0.75) < 0.05
    assert abs(chosen[WEST] / 2000 - 0.25) < 0.05


def test_weighted_calls_reach_both_members_and_record_the_route(deployments, openai_fake):
    east, west = deployments
    group_create("pool", "weighted", [(east, {"weight": 1}), (west, {"weight": 1})])
    counts = served_counts(60)
    assert counts[EAST] > 5 and counts[WEST] > 5
    assert sum(openai_fake.served.values()) == 60
    record = UsageRecord.objects.order_by("-id").first()
    assert record.route["group"] == "pool" and record.route["strategy"] == "weighted"
    assert record.route["member"] == record.model_string and record.route["rank"] == 0
    assert record.route["reason"] == "weighted"


def test_weight_zero_member_is_failover_only(deployments, openai_fake):
    east, west = deployments
    group_create("pool", "weighted", [(east, {"weight": 0}), (west, {"weight": 2})])
    assert served_counts(20) == {WEST: 20}
    openai_fake.model_status["gpt-4.1"] = 500
    result = ask()
    assert result.served_by.model_string == EAST and result.is_fallback
    failed, served = UsageRecord.objects.order_by("-id")[:2][::-1]
    assert failed.model_string == WEST and failed.outcome != "ok"
    assert served.route["reason"] == "failover" and served.route["rank"] == 1


def test_most_headroom_steers_away_before_the_deployment_answers_429(deployments, openai_fake):
    east, west = deployments
    group_create(
        "pool",
        "most_headroom",
        [(east, {"rpm_limit": 4}), (west, {"rpm_limit": 40})],
    )
    # The east deployment's contract allows 4 requests a minute; past that it answers 429.
    openai_fake.model_quota["gpt-4o-mini"] = 4
    counts = served_counts(30)
    assert counts[EAST] <= 4 and counts[WEST] >= 26
    assert not UsageRecord.objects.exclude(outcome="ok").exists()  # no 429 was ever met
    assert UsageRecord.objects.count() == 30


def test_most_headroom_prefers_the_member_with_more_quota_left(deployments):
    east, west = deployments
    group_create(
        "pool",
        "most_headroom",
        [(east, {"rpm_limit": 10, "tpm_limit": 1_000_000}), (west, {"rpm_limit": 100})],
    )
    # West has far more headroom (1 of 100 used vs 1 of 10): the first calls all go there
    # until its used fraction passes east's.
    counts = served_counts(10)
    assert counts[WEST] >= 9
    record = UsageRecord.objects.order_by("-id").first()
    assert record.route["headroom"] is not None


def test_tokens_per_minute_quota_counts_too(deployments, openai_fake):
    east, west = deployments
    # East's token quota cannot take even one call's estimate (prompt plus the output cap).
    group_create("pool", "least_busy", [(east, {"tpm_limit": 50}), (west, {})])
    openai_fake.model_quota["gpt-4o-mini"] = 0
    assert served_counts(8) == {WEST: 8}
    record = UsageRecord.objects.order_by("-id").first()
    assert record.route["strategy"] == "least_busy"


def seed_in_flight(model, count, *, expired=False):
    """Calls in flight on `model` as other workers' claims leave them in Redis."""
    client = cache._cache.get_client(write=True)
    now = time.time()
    score = now - 1 if expired else now + 60
    client.zadd(f"{_base(model.pk)}:inflight", {f"other-{i}": score for i in range(count)})


def test_least_busy_steers_away_from_a_saturated_deployment(deployments, openai_fake):
    east, west = deployments
    group_create("pool", "least_busy", [(east, {}), (west, {})])
    # East is saturated by other workers' calls and would answer 429 to one more.
    seed_in_flight(east, 5)
    openai_fake.model_quota["gpt-4o-mini"] = 0
    assert served_counts(12) == {WEST: 12}
    assert not UsageRecord.objects.exclude(outcome="ok").exists()
    record = UsageRecord.objects.order_by("-id").first()
    assert record.route["reason"] == "least_busy" and record.route["in_flight"] == 0


def test_in_flight_of_a_killed_worker_expires(deployments):
    east, west = deployments
    group_create("pool", "least_busy", [(east, {}), (west, {})])
    seed_in_flight(east, 5, expired=True)  # claims past the call budget no longer count
    counts = served_counts(40)  # ties are shared at random: both serve
    assert counts[EAST] >= 5 and counts[WEST] >= 5


def test_open_streams_count_as_in_flight_until_closed(deployments):
    east, west = deployments
    group_create("pool", "least_busy", [(east, {}), (west, {})])
    request = ChatRequest(model="group:pool", messages=(Message(role="user", content="hi"),))
    first = chat_completion_stream(request=request)
    second = chat_completion_stream(request=request)
    # The first stream is still open: the second call goes to the other deployment.
    assert {first.served_by.model_string, second.served_by.model_string} == {EAST, WEST}
    group = model_selection_resolve(name="group:pool").group
    router = Router(group)
    router.read()
    assert {s.in_flight for s in router.states.values()} == {1}
    for stream in (first, second):
        list(stream)
    router.read()
    assert {s.in_flight for s in router.states.values()} == {0}


def test_lowest_latency_prefers_the_faster_member(deployments):
    east, west = deployments
    group_create("pool", "lowest_latency", [(east, {}), (west, {})])
    client = cache._cache.get_client(write=True)
    client.set(f"{_base(east.pk)}:latency", "900")
    client.set(f"{_base(west.pk)}:latency", "20")
    result = ask()
    assert result.served_by.model_string == WEST
    record = UsageRecord.objects.get(pk=result.usage_record_id)
    assert record.route["latency_ms"] == 20.0
    # The moving average took the new sample in.
    new = float(client.get(f"{_base(west.pk)}:latency"))
    assert new != 20.0 and new == pytest.approx(20 + 0.2 * (record.latency_ms - 20), abs=0.01)


def test_open_circuit_removes_a_member_and_recovery_restores_it(deployments, openai_fake, settings):
    settings.CIRCUIT_BREAKER_FAILURES = 1
    east, west = deployments
    group_create("pool", "weighted", [(east, {"weight": 1}), (west, {"weight": 1})])
    openai_fake.model_status["gpt-4o-mini"] = 503
    # Calls until east has failed once: its circuit opens.
    for _ in range(40):
        ask()
        if UsageRecord.objects.filter(model_string=EAST).exists():
            break
    assert UsageRecord.objects.filter(model_string=EAST).exclude(outcome="ok").exists()
    east_attempts = UsageRecord.objects.filter(model_string=EAST).count()
    # While open, east is never attempted: every call goes to west on the first try.
    counts = served_counts(20)
    assert counts == {WEST: 20}
    assert UsageRecord.objects.filter(model_string=EAST).count() == east_attempts
    # Recovery: the deployment answers again and its circuit's open time runs out.
    openai_fake.model_status.clear()
    client = cache._cache.get_client(write=True)
    key = cache.make_key("runtime:breaker:east:open-until")
    cache.set("runtime:breaker:east:open-until", time.time() - 1, timeout=60)
    assert client.exists(key)
    counts = served_counts(40)
    assert counts[EAST] >= 5 and counts[WEST] >= 5


def test_selection_with_a_group_primary_then_fallbacks(deployments, openai_fake):
    east, west = deployments
    backup = model_create(provider_create(openai_fake, slug="backup", kind="openai"), "o4-mini")
    group = group_create("pool", "weighted", [(east, {}), (west, {})])
    selection_set("assistant", east, (backup,), primary_group=group)
    resolved = model_selection_resolve(name="assistant")
    assert [c.model_string for c in resolved.candidates] == [EAST, WEST, "backup:o4-mini"]
    assert ask("assistant").served_by.model_string in (EAST, WEST)
    openai_fake.model_status.update({"gpt-4o-mini": 404, "gpt-4.1": 404})
    result = ask("assistant")
    assert result.served_by.model_string == "backup:o4-mini" and result.is_fallback
    assert UsageRecord.objects.get(pk=result.usage_record_id).route == {}


def test_disabled_group_or_member_changes_take_effect_at_once(
    deployments, django_capture_on_commit_callbacks
):
    east, west = deployments
    group = group_create("pool", "weighted", [(east, {}), (west, {})])
    assert served_counts(4).keys() <= {EAST, WEST}
    member = ModelGroupMember.objects.get(model_config=east)
    member.enabled = False
    with django_capture_on_commit_callbacks(execute=True):
        member.save()  # the resolution cache is invalidated after the commit
    assert served_counts(6) == {WEST: 6}
    group.enabled = False
    with django_capture_on_commit_callbacks(execute=True):
        group.save()
    with pytest.raises(Exception, match="disabled"):
        ask()


def test_group_through_the_sdk_and_an_unknown_one_is_model_not_found(
    live_server, deployments, transactional_db
):
    east, west = deployments
    group_create("pool", "weighted", [(east, {}), (west, {})])
    _, secret = ConsumerAPIKey.objects.create_key(name="sdk")
    with openai.OpenAI(api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0) as sdk:
        reply = sdk.chat.completions.with_raw_response.create(
            model="group:pool", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.headers["x-served-model"] in (EAST, WEST)
        with pytest.raises(openai.NotFoundError, match="group:nope"):
            sdk.chat.completions.create(
                model="group:nope", messages=[{"role": "user", "content": "hi"}]
            )


# -- a model group as a fallback -------------------------------------------------------------
SOLO, NORTH, SOUTH = "solo:gpt-solo", "north:o4-mini", "south:gpt-4o"


@pytest.fixture
def more_deployments(openai_fake):
    """Three more providers on the fake: `solo` (a plain primary), `north` and `south`."""
    openai_fake.models.extend(["gpt-4o", "gpt-solo"])
    solo = model_create(provider_create(openai_fake, slug="solo", kind="openai"), "gpt-solo")
    north = model_create(provider_create(openai_fake, slug="north", kind="openai"), "o4-mini")
    south = model_create(provider_create(openai_fake, slug="south", kind="openai"), "gpt-4o")
    return solo, north, south


def member_states(name):
    """Each member's shared routing state (calls in flight, requests this minute) as the
    group's next router reads it."""
    group = next(g for g in model_selection_resolve(name="assistant").groups if g.name == name)
    router = Router(group)
    router.read()
    states = {m.model.model_string: router.states[m.model.model_id] for m in group.members}
    return {model: (state.in_flight, state.requests) for model, state in states.items()}


def test_a_failing_primary_model_fails_over_to_a_fallback_group_by_its_strategy(
    deployments, more_deployments, openai_fake
):
    east, west = deployments
    solo, _, _ = more_deployments
    pool = group_create("pool", "least_busy", [(east, {}), (west, {})])
    selection_set("assistant", solo, (pool,))
    resolved = model_selection_resolve(name="assistant")
    assert [c.model_string for c in resolved.candidates] == [SOLO, EAST, WEST]
    assert resolved.group is None and [g.name for g in resolved.groups] == ["pool"]
    # East is busy with other workers' calls: the least-busy strategy picks west.
    seed_in_flight(east, 3)
    openai_fake.model_status["gpt-solo"] = 500
    result = ask("assistant")
    assert result.served_by.model_string == WEST and result.is_fallback
    failed = UsageRecord.objects.filter(model_string=SOLO)
    assert failed.exists() and not failed.filter(outcome="ok").exists()
    assert all(record.route == {} for record in failed)
    served = UsageRecord.objects.get(pk=result.usage_record_id)
    assert served.route["group"] == "pool" and served.route["strategy"] == "least_busy"
    assert served.route["reason"] == "least_busy" and served.route["rank"] == 0
    assert served.route["member"] == WEST and served.route["in_flight"] == 0
    # The claim on west was released (nothing in flight) and counted this minute; east only
    # has the other workers' calls.
    assert member_states("pool") == {EAST: (3, 0), WEST: (0, 1)}
    # While the primary answers, the fallback group is never routed nor claimed.
    openai_fake.model_status.clear()
    assert ask("assistant").served_by.model_string == SOLO
    assert member_states("pool") == {EAST: (3, 0), WEST: (0, 1)}


def test_primary_group_then_fallback_group_each_routed_with_its_own_claims(
    deployments, more_deployments, openai_fake
):
    east, west = deployments
    _, north, south = more_deployments
    front = group_create("front", "least_busy", [(east, {}), (west, {})])
    back = group_create("back", "weighted", [(north, {"weight": 0}), (south, {"weight": 1})])
    selection_set("assistant", east, (back,), primary_group=front)
    resolved = model_selection_resolve(name="assistant")
    assert [g.name for g in resolved.groups] == ["front", "back"]
    assert {c.model_string for c in resolved.candidates[:2]} == {EAST, WEST}
    assert [c.model_string for c in resolved.candidates[2:]] == [NORTH, SOUTH]
    openai_fake.model_status.update({"gpt-4o-mini": 500, "gpt-4.1": 500})
    result = ask("assistant")
    assert result.served_by.model_string == SOUTH and result.is_fallback
    records = list(UsageRecord.objects.order_by("id"))
    front_records = [r for r in records if r.model_string in (EAST, WEST)]
    assert {r.model_string for r in front_records} == {EAST, WEST}
    assert all(r.outcome != "ok" for r in front_records)
    assert {(r.route["group"], r.route["strategy"]) for r in front_records} == {
        ("front", "least_busy")
    }
    served = records[-1]
    assert served.pk == result.usage_record_id and served.model_string == SOUTH
    assert served.route["group"] == "back" and served.route["strategy"] == "weighted"
    assert served.route["reason"] == "weighted" and served.route["rank"] == 0
    assert not UsageRecord.objects.filter(model_string=NORTH).exists()
    # Every attempt was claimed on its own group's member and released: nothing in flight,
    # one request this minute per attempt.
    attempts = Counter(r.model_string for r in records)
    assert member_states("front") == {EAST: (0, attempts[EAST]), WEST: (0, attempts[WEST])}
    assert member_states("back") == {NORTH: (0, 0), SOUTH: (0, 1)}


def test_a_fallback_groups_circuit_open_member_is_skipped(more_deployments, openai_fake):
    solo, north, south = more_deployments
    back = group_create("back", "weighted", [(north, {"weight": 1}), (south, {"weight": 0})])
    selection_set("assistant", solo, (back,))
    openai_fake.model_status["gpt-solo"] = 500
    # North's circuit is open: the weighted draw picks it, the router ranks it last and the
    # breaker skips it, so south serves.
    cache.set("runtime:breaker:north:open-until", time.time() + 60, timeout=120)
    result = ask("assistant")
    assert result.served_by.model_string == SOUTH and result.is_fallback
    assert not UsageRecord.objects.filter(model_string=NORTH).exists()
    served = UsageRecord.objects.get(pk=result.usage_record_id)
    assert served.route["group"] == "back" and served.route["rank"] == 0
    assert member_states("back") == {NORTH: (0, 0), SOUTH: (0, 1)}
