"""The app served by uvicorn on loopback, and Debian's Chromium driven by Playwright, for browser tests.

One copy of the server start-up, the browser launch and the page settings, so every browser test
runs the app and the browser the same way. Importable from any test under ``tests/api`` (its
conftest puts the folder on ``sys.path``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from web_factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
LOOPBACK = "http://127.0.0.1:"

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install -y chromium"
)


@contextmanager
def serve(app: Any, *, start_within_s: float = 20) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yields its base URL, stops it after."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_within_s
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start within {start_within_s:g} s")
            time.sleep(0.05)
        yield f"{LOOPBACK}{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless; the calling test is skipped when Playwright is not installed."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(browser: Any, *, allow: str = LOOPBACK, timeout_ms: int = 15_000) -> Iterator[Any]:
    """A page in a fresh context that may reach only URLs starting with ``allow``."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    # Loopback only: a page that tried to reach anything else would fail the test here.
    context.route(lambda url: not url.startswith(allow), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    try:
        yield page
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    """A full-page screenshot to ``test-output/screenshots/NAME.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str, username: str, *, then: str | None = None) -> None:
    """Sign in through the login form; with ``then``, ask to be sent there and wait for it."""
    page.goto(f"{base}/login" if then is None else f"{base}/login?next={then}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/**" if then is None else f"{base}{then}")
