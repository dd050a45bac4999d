"""What the store needs of a database connection: the DB-API subset its SQL is written against.

The store's connection is a ``sqlcipher3.dbapi2.Connection`` (which ships no type information);
``sqlite3.Connection`` has the same shape, so code and tests type their connections with these.
Rows are the driver's tuples of SQL values (``None``, ``int``, ``float``, ``str``, ``bytes``), read
by position, so a fetched row stays ``Any`` as in the standard library's own stubs.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

# The parameters of one statement: positional (``?``) or named (``:name``).
SqlParams = Sequence[object] | Mapping[str, object]
Row = dict[str, Any]  # one row by column name (Store.query): SQL values, read by the caller who knows the column


class Cursor(Protocol):
    @property
    def description(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: SqlParams = ..., /) -> Cursor: ...

    def close(self) -> None: ...


def inserted_id(cursor: Cursor) -> int:
    """The rowid of the row an ``INSERT`` has just written."""
    rowid = cursor.lastrowid
    if rowid is None:
        raise RuntimeError("the statement inserted no row")
    return int(rowid)
