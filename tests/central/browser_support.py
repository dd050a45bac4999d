"""Selenium helpers shared by the central suite's browser tests."""
from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from central.console.screenshots import ConsoleServer

PBKDF2 = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",  # what the served console (central.settings) checks
          "central.accounts.hashers.OneTimePasswordHasher"]


def account(username: str, **kwargs: Any) -> str:
    """A console account made as ``seed-central createadmin`` makes it (``kwargs``: its role, grants and actor), whose
    holder has set their own password since: returns that password. The first sign-in's change of password is
    tests/central/test_users_browser.py's."""
    from central.accounts.models import User
    from central.accounts.services import create_user_with_one_time_password

    password = create_user_with_one_time_password(username, **kwargs)
    User.objects.filter(username=username).update(must_change_password=False)
    return password


def served_console(central_db_target: str, folder: Path) -> Iterator[ConsoleServer]:
    """The console as a user runs it: ``seed-central --db <test database> serve`` with gunicorn; stopped after the
    test as systemd stops it, but killed (-9) after 1 s: a graceful stop keeps Chromium's kept-alive connections
    open for 2 s more, and is tests/central/test_serve.py's to check."""
    server = ConsoleServer(central_db_target, folder / "console.log", env={"SEED_CENTRAL_SECRET_KEY": "browser-tests-only"})
    server.start()
    yield server
    began = time.monotonic()
    server.stop(timeout=1.0)
    assert server.proc is not None and server.proc.returncode is not None
    took = time.monotonic() - began
    if took > 2.5:  # say what the console was doing
        warnings.warn(f"the console took {took:.1f} s to stop; its log ends:\n{server.log_tail(800)}", stacklevel=1)


def by_css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver: Any, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def wait(driver: Any, condition: Any, timeout: float = 30.0, what: str = "") -> Any:
    """Until ``condition(driver)`` is truthy; a part of the page htmx swaps out meanwhile is looked up again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition, what)


def submit(driver: Any, form: str) -> None:
    """Press the submit button of the form ``form`` (a CSS selector) and wait for the next page, loaded."""
    old = by_css(driver, "html")
    by_css(driver, f"{form} button[type=submit]").click()
    wait(driver, lambda d: by_css(d, "html") != old, what="the next page")
    # the new document exists before it is parsed: on a loaded machine its body may still be on its way
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete", what="the next page loaded")
