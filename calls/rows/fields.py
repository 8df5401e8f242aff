"""Which columns a statement of `calls.rows` writes and reads back, and their values
prepared and converted exactly as the ORM prepares and converts them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from django.db import DEFAULT_DB_ALIAS, connections, models

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

ALIAS = DEFAULT_DB_ALIAS


def connection_in_use() -> BaseDatabaseWrapper:
    """The connection itself: `django.db.connection` is a proxy that looks it up again
    on every attribute, and preparing one row's values reads it dozens of times."""
    return connections[ALIAS]


# -- Which columns are written and read ---------------------------------------------------


@cache
def columns(model: type[models.Model]) -> list[models.Field]:
    """Every column of `model`, in the order `Model.from_db` takes their values."""
    return [f for f in model._meta.get_fields() if f.concrete and not f.many_to_many]


@cache
def updated(model: type[models.Model]) -> list[models.Field]:
    """The columns an UPDATE writes: all but the primary key and generated fields."""
    return [
        f for f in columns(model) if not f.primary_key and not isinstance(f, models.GeneratedField)
    ]


@cache
def inserted(model: type[models.Model]) -> list[models.Field]:
    """The columns an INSERT writes: those an UPDATE writes, less the ones the database
    fills, as for `save()` (a `db_default`, and no `default` to take precedence)."""
    return [f for f in updated(model) if not database_fills(f)]


def database_fills(field: models.Field) -> bool:
    return field.has_db_default() and not field.has_default()


@cache
def returned(model: type[models.Model]) -> list[models.Field]:
    """The columns an INSERT reads back: the primary key and what the database filled."""
    written = inserted(model)
    return [f for f in columns(model) if f not in written]


@cache
def _defaults_of_the_database(model: type[models.Model]) -> list[models.Field]:
    return [f for f in returned(model) if database_fills(f)]


def as_the_orm_reads(
    model: type[models.Model], fields: list, values: Sequence, connection: BaseDatabaseWrapper
) -> Sequence:
    by_field = converters(model, connection.vendor)
    if not by_field:  # no column of the model needs one (the usual case on PostgreSQL)
        return values
    return [
        by_field[f](value, connection) if f in by_field else value
        for f, value in zip(fields, values, strict=True)
    ]


@cache
def converters(model: type[models.Model], vendor: str) -> dict[models.Field, Callable]:
    """For each column of `model` whose value needs it, how the ORM converts a value the
    database driver returns (SQLite's are naive times, for one; a field's documented
    `from_db_value`): `convert(value, connection)`.

    Private Django API, checked against Django 5.2.19: a compiler's `get_converters` and
    the converters' calling convention. The documented route, `Model.objects.raw()`,
    applies the same converters but builds a compiler and a RawQuerySet on every call: 90
    (SQLite) to 120 (PostgreSQL) µs more CPU per call_create_or_lock, about half again
    what it costs. Kept to this one function;
    `test_a_call_read_back_by_create_or_lock_is_what_the_orm_reads` and
    `test_columns_the_database_fills_are_left_to_it_and_read_back` fail if it changes.
    """
    connection = connection_in_use()
    query = model._default_manager.none().query
    compiler = connection.ops.compiler("SQLCompiler")(query, connection, ALIAS)
    read = columns(model)
    found = compiler.get_converters([f.get_col(model._meta.db_table) for f in read])

    def chained(functions: list, expression: Any) -> Callable:
        def convert(value: Any, connection: BaseDatabaseWrapper) -> Any:
            for function in functions:
                value = function(value, expression, connection)
            return value

        return convert

    return {read[i]: chained(functions, col) for i, (functions, col) in found.items()}


# -- Preparing values ---------------------------------------------------------------------


def insert_params(
    obj: models.Model, connection: BaseDatabaseWrapper, *, leave_out: models.Field | None = None
) -> list:
    model = type(obj)
    for field in _defaults_of_the_database(model):
        # Django sets an expression (the database's default) where no value was given; a
        # value given would be lost, so it is refused rather than dropped.
        if not hasattr(getattr(obj, field.attname), "as_sql"):
            raise ValueError(f"{model.__name__}.{field.name} is the database's to fill")
    return [
        prepare(obj, connection)
        for field, prepare in preparers(model, connection.vendor)
        if field is not leave_out
    ]


Preparer = Callable[[models.Model, "BaseDatabaseWrapper"], Any]


@cache
def preparers(model: type[models.Model], vendor: str) -> list[tuple[models.Field, Preparer]]:
    """Per written field, how a new row's value is prepared: as the ORM prepares it
    (`get_db_prep_save(pre_save(obj, add=True))`), with a shortcut where that chain is
    known to hand the value back as it is. The request path writes some thirty values,
    and the chain costs a few microseconds each."""
    return [(field, _preparer(field, vendor)) for field in inserted(model)]


def _preparer(field: models.Field, vendor: str) -> Preparer:
    def as_the_orm_does(obj: models.Model, connection: BaseDatabaseWrapper) -> Any:
        return field.get_db_prep_save(field.pre_save(obj, True), connection)

    passes_through = _passes_through(field, vendor)
    if passes_through is None:
        return as_the_orm_does
    attname = field.attname

    def shortcut(obj: models.Model, connection: BaseDatabaseWrapper) -> Any:
        value = getattr(obj, attname)
        return value if passes_through(value) else as_the_orm_does(obj, connection)

    return shortcut


def _passes_through(field: models.Field, vendor: str) -> Callable[[Any], bool] | None:
    """Which values `field`'s preparation returns unchanged, if that is known: text in a
    text field; None or an aware time in a time field that sets no time of its own, on
    PostgreSQL (SQLite's driver takes times as text). Exact classes only: a subclass may
    prepare its values differently."""
    if type(field) in (models.CharField, models.TextField):
        return lambda value: type(value) is str
    if (
        type(field) is models.DateTimeField
        and vendor == "postgresql"
        and not (field.auto_now or field.auto_now_add)
    ):
        return lambda value: value is None or (type(value) is datetime and value.tzinfo is not None)
    return None
