"""Browser tests: Playwright for Python driving Debian's Chromium (`apt-get install chromium`;
no browser is ever downloaded) against pytest-django's live_server.

In CI (CI=true) a missing Chromium or Playwright fails these tests; on a developer machine
they skip with the reason. A failing test leaves a screenshot and its page's console in
var/test-artifacts/. Each page is 1,366 x 768, a common laptop screen.
"""

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts"
VIEWPORT = {"width": 1366, "height": 768}
TIMEOUT_MS = 30_000  # the CI machine is shared: generous, still bounded
PASSWORD = "pw-browser-admin-123"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser() -> Iterator:
    """A Chromium for one test. Playwright's sync API runs an event loop on this thread while
    it is open, which Django takes for async code; the ORM calls of the test itself are plain
    synchronous code, so the check is lifted for exactly that time (never for other tests or
    their subprocesses, where `check --deploy` rightly refuses the variable)."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the dev extra installs it
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server, request) -> Iterator:
    context = browser.new_context(
        viewport=VIEWPORT, base_url=live_server.url, locale="en-GB", timezone_id="UTC"
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    # No request may leave the machine: anything not for the live server is refused.
    context.route(
        re.compile(r"^(?!" + re.escape(live_server.url) + r").*"), lambda route: route.abort()
    )
    page = context.new_page()
    console: list[str] = []  # console errors and uncaught exceptions, for the tests to check
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console.append(f"uncaught: {exc}"))
    page.console_errors = console
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-150:]
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console) + "\n")
    context.close()


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(
        username="browser-admin", password=PASSWORD, email="browser-admin@example.com"
    )


def _totp_code(device) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def signed_in(page, admin_user, settings):
    """A page signed in to the admin through its login form, with the second factor a
    superuser must use (an enrolled authenticator app, its current code typed)."""
    from tests.fixtures import confirmed_second_factor

    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device = confirmed_second_factor(admin_user)
    page.goto("/admin/login/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", _totp_code(device))
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page
