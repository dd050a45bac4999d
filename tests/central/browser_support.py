"""Selenium helpers shared by the central suite's browser tests."""
from __future__ import annotations

from typing import Any


def by_css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver: Any, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def wait(driver: Any, condition: Any, timeout: float = 20.0, what: str = "") -> Any:
    """Until ``condition(driver)`` is truthy; a part of the page htmx swaps out meanwhile is looked up again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition, what)
