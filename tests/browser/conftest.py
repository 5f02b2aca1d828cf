"""Playwright driving Debian's chromium against pytest-django's live server.

Chromium is /usr/bin/chromium (.ci/run installs it; `playwright install` is
never used), launched headless with a fresh profile. Screenshots go to
test-results/browser/ at the top of the repository (gitignored), one folder per
test. Playwright's sync API runs an event loop in the test's thread, so the
test's own ORM calls need DJANGO_ALLOW_ASYNC_UNSAFE (they are plain
synchronous calls; nothing here is async).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT = Path(settings.BASE_DIR) / "test-results" / "browser"
PASSWORD = "pass-word-123"  # tests.factories.UserFactory's


def pytest_collection_modifyitems(config, items):
    missing = None
    if not CHROMIUM.exists():
        missing = f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "needs playwright (requirements-dev.txt)"
    if missing:
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture
def output_dir(request) -> Path:
    folder = OUTPUT / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser(monkeypatch, tmp_path):
    from django.db import connections
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()
            # The test's ORM calls ran while Playwright's loop was up, in a context of their own: close that
            # context's connection here, or PostgreSQL refuses to drop the test database at the end of the run.
            connections.close_all()


@pytest.fixture
def login(browser, live_server):
    """`login(user)` → a new page signed in to the admin through its login form."""

    def sign_in(user):
        page = browser.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        return page

    return sign_in
