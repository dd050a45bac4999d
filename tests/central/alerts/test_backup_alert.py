"""The alert a superuser sets for backups that stopped (超过 N 小时没有数据库备份): raised once while no backup is
newer than N hours, mailed through a real SMTP server on loopback, ended by the next backup; a superuser's rule and
a superuser's alert only."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from central_support import make_user

from alerts.alert_support import make_world, rule, smtp_server
from central import backup
from central.alerts import mail, selectors
from central.alerts.models import AlertEpisode, AlertRule
from central.alerts.services import AlertError, create_rule, evaluate
from central.alerts.texts import describe

pytestmark = pytest.mark.django_db(transaction=True)
NOW = datetime(2026, 3, 4, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(central_db_target: str) -> dict[str, Any]:
    return make_world()


def test_backups_that_stopped_raise_one_alert_mailed_to_it_and_the_next_backup_ends_it(
        world, central_db_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "backups"
    monkeypatch.setenv("SEED_CENTRAL_BACKUPS", str(folder))
    backup.make_backup(central_db_target, folder, now=NOW - timedelta(hours=20))
    rule(AlertRule.BACKUP_STALE, 26, emails=["it@example.test"])
    assert evaluate(NOW) == []  # 20 h old: within 26

    with smtp_server() as (box, port):
        monkeypatch.setenv("SEED_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SEED_SMTP_PORT", str(port))
        monkeypatch.setenv("SEED_SMTP_FROM", "seed@example.test")
        monkeypatch.delenv("SEED_SMTP_SECURITY", raising=False)
        monkeypatch.delenv("SEED_SMTP_USER", raising=False)
        later = NOW + timedelta(hours=7)  # 27 h since the newest backup: the nightly one did not run
        [alert] = evaluate(later)
        assert alert.detail["hours"] == 27 and alert.detail["newest"] == (NOW - timedelta(hours=20)).isoformat()
        assert evaluate(later + timedelta(hours=1)) == []  # one alert while it lasts
        assert mail.send_due(later) == 1 and box.wait_for(1)
    message = box.messages[0]
    body = message.get_content()
    assert "备份过期" in str(message["subject"]) and "Backup overdue" in str(message["subject"])
    assert "27 小时前" in body and "27 h ago" in body and body.index("备份过期") < body.index("Backup overdue")

    backup.make_backup(central_db_target, folder, now=later + timedelta(hours=2))  # the backup runs again
    assert evaluate(later + timedelta(hours=2, minutes=5)) == [] and not AlertEpisode.objects.exists()
    [again] = evaluate(later + timedelta(hours=30))  # and stops again: a new alert
    assert again.pk != alert.pk and again.detail["hours"] == 28


def test_no_backup_at_all_is_said_with_the_folder(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEED_CENTRAL_BACKUPS", str(tmp_path / "none-yet"))
    rule(AlertRule.BACKUP_STALE, 26)
    [alert] = evaluate(NOW)
    zh, en = describe(alert.kind, alert.detail)
    assert zh.startswith("没有数据库备份") and str(tmp_path / "none-yet") in zh
    assert en.startswith("No database backup") and "seed-central backup create" in en


def test_only_a_superuser_sets_it_and_only_superusers_see_it(world, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    from central.accounts.models import Role

    monkeypatch.setenv("SEED_CENTRAL_BACKUPS", str(tmp_path / "none-yet"))
    hr = make_user("hr", Role.HR_ADMIN, sites=[world["sh"]])
    root = make_user("root", Role.HR_ADMIN)
    root.is_superuser = True
    root.save(update_fields=["is_superuser"])
    with pytest.raises(AlertError, match="Only superusers"):
        create_rule(hr, {"kind": AlertRule.BACKUP_STALE, "threshold": 26, "site": world["sh"]})
    with pytest.raises(AlertError, match="leave the site"):
        create_rule(root, {"kind": AlertRule.BACKUP_STALE, "threshold": 26, "site": world["sh"]})
    create_rule(root, {"kind": AlertRule.BACKUP_STALE, "threshold": 26})
    [alert] = evaluate(NOW)
    assert list(selectors.alerts(root)) == [alert]
    assert list(selectors.alerts(hr)) == []
