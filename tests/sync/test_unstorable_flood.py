"""One door sending text no database can store must not slow another door: through the real broker.

Each message below carries one valid punch and one whose ``boot_id`` holds a lone UTF-16 surrogate (valid
JSON, refused by every database). The central must store the valid punch, refuse the other in the ack and
go straight on to the next message, so the other door's batch is acknowledged as usual.
"""
from __future__ import annotations

import json
import uuid

from sync_support import SITE, raw_client, wait_for

from central.ingest.models import Punch, RejectedMessage
from contract import protocol as p

FLOOD = 200


def _punch(device: str, boot_id: str = "boot-1") -> dict:
    return {"id": str(uuid.uuid4()), "device_id": device, "employee_number": "E001", "direction": "in",
            "method": "card", "score": None, "punched_at": p.utc_stamp(), "boot_id": boot_id, "monotonic_ns": 7,
            "time_source": "ntp", "original_punched_at": None, "restamped_at": None}


def _acks(client) -> list[dict]:
    return [json.loads(payload) for topic, payload in list(client.messages) if topic.endswith("/ack")]


def test_a_flood_of_unstorable_text_is_refused_per_punch_and_the_other_door_is_acked(site, broker_up, central):
    door_a, door_b = raw_client(site, broker_up, "door-a"), raw_client(site, broker_up, "door-b")
    try:
        assert door_a.connect() == 0 and door_b.connect() == 0
        door_a.client.subscribe(p.device_topic(SITE, "door-a", "ack"), qos=1)
        door_b.client.subscribe(p.device_topic(SITE, "door-b", "ack"), qos=1)
        good_ids = []
        for _ in range(FLOOD):
            good, bad = _punch("door-a"), _punch("door-a", boot_id="boot-\ud800")
            good_ids.append(good["id"])
            body = json.dumps({"batch": str(uuid.uuid4()), "punches": [good, bad]}).encode("ascii")  # "\ud800" escaped
            assert door_a.publish_nowait(p.device_topic(SITE, "door-a", "punches"), body) == 0
        other = _punch("door-b")
        door_b.publish(p.device_topic(SITE, "door-b", "punches"),
                       p.dumps({"batch": str(uuid.uuid4()), "punches": [other]}))
        wait_for(lambda: any(other["id"] in a["stored"] for a in _acks(door_b)), 20, what="door-b's ack")
        wait_for(lambda: len(_acks(door_a)) == FLOOD, 20, what="an ack for every door-a batch")
        acks = _acks(door_a)
        assert sorted(i for a in acks for i in a["stored"]) == sorted(good_ids)
        assert all(len(a["rejected"]) == 1 and "lone UTF-16 surrogate" in a["rejected"][0]["reason"] for a in acks)
        assert central.errors == 0  # no message reached the worker's error path
        assert Punch.objects.count() == FLOOD + 1
        assert RejectedMessage.objects.filter(device_id="door-a").count() == FLOOD
    finally:
        door_a.close()
        door_b.close()
