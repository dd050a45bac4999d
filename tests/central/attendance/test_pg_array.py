"""Arrays sent to PostgreSQL as one literal come back element for element, whatever the employee numbers hold."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection

from central.attendance.inputs import pg_array

pytestmark = pytest.mark.django_db

HOSTILE = ["E001", 'quo"te', "back\\slash", "comma,brace}{", " spaced ", "NULL", "", "员工\t07", "\\\"", "a'b"]


@pytest.fixture(autouse=True)
def postgresql_only(db: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: run the central suite with --central-db=postgresql")


@pytest.mark.parametrize("values", [HOSTILE, [1, 2, 9_000_000_000], [date(2026, 3, 1), date(2026, 12, 31)], ["x"]])
def test_an_array_literal_reads_back_as_the_values(values: list[Any]) -> None:
    literal, kind = pg_array(values)
    with connection.cursor() as cur:
        cur.execute(f"SELECT %s::{kind}[]", [literal])
        assert cur.fetchone()[0] == values


def test_values_of_other_kinds_are_refused() -> None:
    with pytest.raises(TypeError):
        pg_array([1, "2"])
    with pytest.raises(TypeError):
        pg_array([1.5])
