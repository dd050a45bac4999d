"""Two central instances (two processes, each with its own database connection) evaluate the same moment at
once against one database: one alert, one mail, one webhook delivery in total."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from receiver_support import running_receiver

from alerts.alert_support import MONDAY, at, make_world, rule, smtp_server
from central.alerts.models import Alert, AlertEpisode, AlertMail, AlertRule
from central.attendance.models import DailyRecord
from central.people.models import Device
from central.webhooks.models import Delivery, Hook

REPO = Path(__file__).resolve().parents[3]
INSTANCE = """
import json, sys, time
from datetime import datetime
from pathlib import Path
from central.django_setup import setup
setup()
from django.db import connection
from central.alerts import mail
from central.alerts.services import evaluate
from central.webhooks.worker import WebhookThread
go, moment = Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.002)
raised = evaluate(moment)
mailed = mail.send_due(moment)
delivered = WebhookThread().run_once()
connection.close()
print(json.dumps({"raised": [a.key for a in raised], "mailed": mailed, "delivered": delivered}), flush=True)
"""


def test_two_instances_raise_one_alert_one_mail_one_delivery(central_db_target: str, tmp_path: Path) -> None:
    world = make_world()
    rule(AlertRule.LATE, 10, site=world["sh"], emails=["hr@example.test"])
    rule(AlertRule.QUEUE_DEPTH, 5, site=world["sh"])
    DailyRecord.objects.create(employee=world["E1"], date=MONDAY, shift_name="day", status="present",
                               source="punches", late=True, late_min=20, first_in=at(9, 25))
    Device.objects.filter(pk=world["door"].pk).update(status={"queue_depth": 9})
    go = tmp_path / "go"
    with smtp_server() as (box, port), running_receiver() as receiver:
        Hook.objects.create(name="值班", url=receiver.url, events=["alert"], secret="s" * 20, created_by="t")
        env = {**os.environ, "SEED_CENTRAL_DB": central_db_target, "DJANGO_SETTINGS_MODULE": "central.settings",
               "SEED_CENTRAL_SECRET_KEY": "tests-only", "SEED_SMTP_HOST": "127.0.0.1", "SEED_SMTP_PORT": str(port),
               "PYTHONPATH": str(REPO)}
        env.pop("CREDENTIALS_DIRECTORY", None)
        children = [subprocess.Popen([sys.executable, "-c", INSTANCE, str(go), at(9, 30).isoformat()], cwd=tmp_path,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for _ in range(2)]
        outputs: list[dict[str, Any]] = []
        try:
            for child in children:  # both set up and waiting: then both go at once
                assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            go.touch()
            for child in children:
                out, err = child.communicate(timeout=120)
                assert child.returncode == 0, err
                outputs.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.communicate()
        assert box.wait_for(1) and receiver.wait_for(2)
        time.sleep(0.3)  # anything sent twice would have arrived by now
    raised = sorted(key for o in outputs for key in o["raised"])
    episode = AlertEpisode.objects.get()
    assert raised == sorted([f"late:{world['E1'].pk}:{MONDAY.isoformat()}",
                             f"queue_depth:{world['door'].pk}:{episode.pk}"])
    assert Alert.objects.count() == 2
    assert sum(o["mailed"] for o in outputs) == 1 and len(box.messages) == 1
    assert AlertMail.objects.get().state == "sent"
    assert Delivery.objects.count() == 2 and sum(o["delivered"] for o in outputs) == 2
    assert len(receiver.requests) == 2
    assert sorted(json.loads(b)["data"]["kind"] for b in (r.body for r in receiver.requests)) == ["late", "queue_depth"]
