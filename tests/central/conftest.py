"""The central suite: Django on the test database (SQLite, or PostgreSQL with --central-db=postgresql)."""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _fresh_hooks() -> Iterator[None]:
    """The webhooks' cache of active hooks (a few seconds per process) read afresh around every test: a hook one test
    made goes with its database and must not be offered the next test's events."""
    from central.webhooks import services

    services.forget_hooks()
    yield
    services.forget_hooks()


# -- the browser tests: the console served on the test database, and Chromium on it ----------------------------------
@pytest.fixture
def console(world: object, central_db_target: str, tmp_path: Path) -> Iterator[object]:
    """``seed-central serve`` (gunicorn) on the test database once the module's ``world`` is in it; stopped after."""
    from browser_support import served_console

    yield from served_console(central_db_target, tmp_path)


class _Chromium:
    """One headless Chromium (1400 × 1000) for the session's browser tests, left as a new one would be after each
    test: no page, no cookie, no second tab, no open dialog. Starting and stopping Chromium was about 2 s a test; a
    browser that cannot be cleaned (it crashed, it hangs) is stopped and the next test gets a new one."""

    SIZE = (1400, 1000)

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._driver: Any = None

    def driver(self) -> Any:
        from central.console.screenshots import chromium

        if self._driver is None:
            self._driver = self._stack.enter_context(chromium(self.SIZE))
        return self._driver

    def clean(self) -> None:
        from selenium.common.exceptions import NoAlertPresentException, WebDriverException

        driver = self._driver
        if driver is None:
            return
        try:
            with contextlib.suppress(NoAlertPresentException):
                driver.switch_to.alert.dismiss()
            first, *others = driver.window_handles
            for handle in others:
                driver.switch_to.window(handle)
                driver.close()
            driver.switch_to.window(first)
            driver.get("about:blank")  # the page's polls stop before its server does
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": self.SIZE[0], "height": self.SIZE[1], "deviceScaleFactor": 1, "mobile": False})
        except (WebDriverException, ValueError):  # ValueError: no window left to unpack
            self.close()

    def close(self) -> None:
        self._driver = None
        self._stack.close()


@pytest.fixture(scope="session")
def _chromium() -> Iterator[_Chromium]:
    held = _Chromium()
    yield held
    held.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A browser test that fails says what Chromium showed and what the console logged: a failure on a loaded CI
    machine is otherwise only "no such element"."""
    outcome = yield
    report = outcome.get_result()
    funcargs = getattr(item, "funcargs", {})
    if report.when != "call" or not report.failed or "browser" not in funcargs:
        return
    from selenium.common.exceptions import WebDriverException

    driver = funcargs["browser"]
    try:
        text = driver.execute_script("return document.body ? document.body.innerText : ''")
        page = f"{driver.current_url}\n{driver.title}\n{text[:4000]}"
    except WebDriverException as exc:
        page = f"(Chromium did not answer: {exc.msg})"
    report.sections.append(("the page Chromium showed", page))
    server = funcargs.get("console")
    if server is not None:
        report.sections.append(("the console's log, its end", server.log_tail(6000)))


@pytest.fixture
def browser(console: object, _chromium: _Chromium) -> Iterator[object]:
    """Headless Chromium, 1400 × 1000, for the served ``console``: the session's one, cleaned after each test."""
    yield _chromium.driver()
    _chromium.clean()
