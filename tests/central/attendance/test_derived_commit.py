"""The follower's records and watermark are committed without waiting for the disk flush, and only they: the
setting is back for the next transaction (the ingest's, whose ack means the punch is on disk). Runs on SQLite and,
with --central-db=postgresql, on PostgreSQL."""
from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from central.attendance.services import derived_transaction
from central.ingest.models import State


def flush_setting() -> str:
    with connection.cursor() as cur:
        cur.execute("PRAGMA synchronous" if connection.vendor == "sqlite" else "SHOW synchronous_commit")
        return str(cur.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_only_the_derived_transaction_skips_the_flush_and_it_stays_whole(transactional_db: Any) -> None:
    before = flush_setting()
    assert before in ("2", "3", "on")  # the ingest's durable setting (FULL, EXTRA; PostgreSQL's default)
    with derived_transaction():
        assert flush_setting() in ("1", "off")  # NORMAL / off
        State.objects.create(key="k1", value="v")
    assert flush_setting() == before
    assert State.objects.filter(key="k1").exists()
    with pytest.raises(RuntimeError), derived_transaction():
        State.objects.create(key="k2", value="v")
        raise RuntimeError("a failure inside: nothing of it is kept")
    assert not State.objects.filter(key="k2").exists()
    assert flush_setting() == before


@pytest.mark.django_db(transaction=True)
def test_inside_an_outer_transaction_it_is_part_of_that_one(transactional_db: Any) -> None:
    before = flush_setting()
    with transaction.atomic():
        with derived_transaction():
            State.objects.create(key="k3", value="v")
            assert flush_setting() == before  # the outer transaction may hold what must be durable
    assert State.objects.filter(key="k3").exists() and flush_setting() == before
