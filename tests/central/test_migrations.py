"""The models and their migrations are the only schema: a model changed without its migration (a field, or the
choices a field takes, such as the reports a schedule may send) is caught here, not on a customer's upgrade."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_every_model_change_has_its_migration() -> None:
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:
        pytest.fail(f"models changed without a migration (exit {exc.code}):\n{out.getvalue()}")
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_recompute_jobs_queued_before_their_kind_was_kept_get_it_from_their_actor_and_reason() -> None:
    """Upgraded in place, the follower's jobs of days turning final stay out of the console's list of recomputes
    and its jobs of many punches stay in it, as before the kind was kept (migration 0025)."""
    import importlib
    from datetime import date

    from django.apps import apps

    from central.attendance.models import RecomputeJob

    step = importlib.import_module("central.attendance.migrations.0025_recompute_job_kind")
    made = {name: RecomputeJob.objects.create(actor=actor, reason=reason, first=date(2026, 3, 1), last=date(2026, 3, 2))
            for name, actor, reason in (("arrivals", "system:attendance", step.ARRIVALS),
                                        ("final", "system:attendance", "站点 1 定稿至 2026-03-02 06:00 / days turn final"),
                                        ("edit", "hr-wang", "新排班 生产部 / new assignment"))}
    step.kinds_of_jobs_before(apps, None)
    assert {name: RecomputeJob.objects.get(pk=job.pk).kind for name, job in made.items()} == {
        "arrivals": RecomputeJob.MANY_PUNCHES, "final": RecomputeJob.TURNING_FINAL, "edit": RecomputeJob.EDIT}
    assert step.ARRIVALS == RecomputeJob.ARRIVALS
