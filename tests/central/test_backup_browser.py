"""备份 in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by headless Chromium.
The IT administrator (a superuser) set the alert for backups that stop; the nightly backup never ran. The alert
names the empty folder; its link opens the backups on the devices page, which says there is none. The backup is
made (the nightly unit's command), and the page shows it with its punches, the badge gone."""
from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import PBKDF2, by_css

from central.console.screenshots import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def world(transactional_db, settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    from browser_support import account

    from central.alerts.models import AlertRule
    from central.people.models import Device, Site

    settings.PASSWORD_HASHERS = PBKDF2
    monkeypatch.setenv("SEED_CENTRAL_BACKUPS", str(tmp_path / "backups"))  # the served console's too
    site = Site.objects.create(code="zongchang", name="总厂")
    Device.objects.create(device_id="gate-1", site=site, online=True)
    AlertRule.objects.create(kind=AlertRule.BACKUP_STALE, threshold=26, created_by="it-wang")
    it = ("it-wang", account("it-wang", role="superuser", actor="test"))
    return {"it": it, "folder": tmp_path / "backups"}


def test_it_follows_the_backup_alert_to_the_backups_and_sees_the_next_one(world, console, browser,
                                                                          central_db_target: str) -> None:
    from django.utils import timezone

    from central import backup
    from central.alerts.services import evaluate

    [alert] = evaluate(timezone.now())
    sign_in(browser, console.url, *world["it"])
    browser.get(f"{console.url}/alerts/")
    row = by_css(browser, f"#alert-{alert.pk}")
    assert "没有数据库备份" in row.text and str(world["folder"]) in row.text
    by_css(browser, f"#alert-{alert.pk} a[href$='#backups']").click()
    assert by_css(browser, "h1").text == "设备"
    card = by_css(browser, "#backups")
    assert "还没有备份" in card.text and "seed-central backup create" in card.text

    made = backup.make_backup(central_db_target, world["folder"])  # the nightly unit's `backup create`
    browser.refresh()
    card = by_css(browser, "#backups")
    assert made.path.name in card.text and "还没有备份" not in card.text
    assert not card.find_elements("css selector", ".badge-bad")
