"""The wall display's picture for ``docs/screenshots/``: what the TV at the plant gate shows, at 1920×1080.

The console's screenshot tour (``python -m central.console.screenshots``, part of ``make screenshots``) makes a
display token for its demo site, whose 包装部 crew is on a shift in progress, and calls
:func:`wall_display_shot` with the console server and Chromium it already runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from central.console.screenshots import ScreenshotError

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

SIZE = (1920, 1080)
NAME = "wall-display.png"


def make_display_token(site_code: str = "zongchang", name: str = "东门电视") -> str:
    """A display token for the demo site (Django set up on the demo database); returns the clear token."""
    from central.accounts.models import User
    from central.live.display_services import create_display
    from central.people.models import Site

    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    if admin is None:
        raise ScreenshotError("the demo database has no superuser to make a display token with")
    _, clear = create_display(admin, Site.objects.get(code=site_code), name)
    return clear


def wall_display_shot(driver: WebDriver, base_url: str, token: str, out: Path) -> Path:
    """Open ``token``'s wall display on the running console at ``base_url`` and save ``out/wall-display.png``.

    ``driver``: a Chromium from :func:`central.console.screenshots.chromium`; the page is drawn at 1920×1080.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": SIZE[0], "height": SIZE[1], "deviceScaleFactor": 1, "mobile": False})
    try:
        driver.get(f"{base_url}/display/{token}/")
        WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#n-on_site"))
        WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.fonts.status") == "loaded")
        out.mkdir(parents=True, exist_ok=True)
        path = out / NAME
        if not driver.save_screenshot(str(path)):
            raise ScreenshotError(f"Chromium could not save {path}")
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path
