"""The staff workflow from an empty database, in a real browser: a provider against the fake
OpenAI server, Test connection, sync, enable and price a model, a selection, a consumer key
whose secret is copied with the copy button and then works through the OpenAI SDK."""

from decimal import Decimal

import openai
import pytest

from providers.models import ConsumerAPIKey, ModelConfig, ModelSelection, ProviderConfig

pytestmark = pytest.mark.django_db(transaction=True)
NEW_MODEL = "gpt-4.1-2025-04-14"  # a dated snapshot the catalog knows as gpt-4.1


def _run_action(page, changelist: str, row_text: str, action: str) -> None:
    page.goto(changelist)
    row = page.locator("#result_list tbody tr", has_text=row_text)
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def test_from_an_empty_database_to_a_working_consumer_key(signed_in, openai_fake, live_server):
    page = signed_in
    assert not ProviderConfig.objects.exists()
    openai_fake.models = ["gpt-4o-mini", NEW_MODEL]

    # View site: the landing page, not a DEBUG 404.
    page.click("text=View site")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "LLM provider control plane"

    # 1. A provider against the fake.
    page.goto("/admin/providers/providerconfig/add/")
    page.fill("#id_slug", "openai")
    page.select_option("#id_kind", "openai")
    page.fill("#id_name", "OpenAI (fake)")
    page.fill("#id_base_url", f"{openai_fake.url}/v1")
    page.fill("#id_new_api_key", openai_fake.api_key)
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    provider = ProviderConfig.objects.get(slug="openai")
    assert openai_fake.api_key not in page.content()

    # 2. Test connection, from the provider's page.
    page.get_by_role("button", name="Test connection").click()
    page.locator(".messagelist .success").first.wait_for()
    provider.refresh_from_db()
    assert provider.last_check_ok is True

    # 3. Sync: the snapshot arrives disabled, described and priced from the catalog.
    _run_action(page, "/admin/providers/providerconfig/", "openai", "sync_models")
    page.wait_for_selector(".messagelist")
    synced = ModelConfig.objects.get(provider=provider, name=NEW_MODEL)
    assert not synced.enabled and "tools" in synced.capabilities

    # 4. Enable and price it on its page.
    page.goto(f"/admin/providers/modelconfig/{synced.pk}/change/")
    page.check("#id_enabled")
    page.fill("#id_price_input", "1.5")
    page.fill("#id_price_output", "6")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    synced.refresh_from_db()
    assert synced.enabled
    assert (synced.current_price.input, synced.current_price.output) == (
        Decimal("1.5"),
        Decimal("6"),
    )

    # 5. A selection: service "assistant" served by that model (the admin's autocomplete).
    page.goto("/admin/providers/modelselection/add/")
    page.fill("#id_service", "assistant")
    page.click("#id_primary + .select2 .select2-selection")
    page.fill(".select2-search__field", "2025-04-14")
    page.locator(".select2-results__option", has_text=NEW_MODEL).first.click()
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    assert ModelSelection.objects.get(service="assistant").primary_id == synced.pk

    # 6. A consumer key: the secret in its own block, copied with the copy button.
    page.goto("/admin/providers/consumerapikey/add/")
    page.fill("#id_name", "browser-test")
    page.click("input[name=_save]")
    secret_block = page.locator("#consumer-key-secret")
    secret_block.wait_for()
    page.click("#copy-secret")
    page.wait_for_selector("#copy-secret-status:has-text('Copied')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == secret_block.inner_text().strip()
    key = ConsumerAPIKey.objects.get(name="browser-test")
    assert copied.startswith(key.prefix + ".")
    assert key.owner.username == "browser-admin"
    page.goto("/admin/providers/consumerapikey/")
    assert copied not in page.content()

    # The copied key works through the OpenAI SDK, served by the model chosen above.
    with openai.OpenAI(
        api_key=copied, base_url=f"{live_server.url}/v1", max_retries=0, timeout=30
    ) as client:
        reply = client.chat.completions.with_raw_response.create(
            model="assistant", messages=[{"role": "user", "content": "Hello"}]
        )
    assert reply.headers["x-served-model"] == f"openai:{NEW_MODEL}"
    assert page.console_errors == []
