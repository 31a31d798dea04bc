"""Masking identifiers in failing-row samples (quality.failed_rows): the same rule in Python and Spark SQL.

names -> first character + ``*``; ID numbers, phones, insurance numbers -> ``*`` for all but the last 4.
"""

from __future__ import annotations

NAME_COLUMNS = ("name",)
KEEP_LAST4_COLUMNS = ("id_number", "id_number_source_value", "phone", "insurance_no")


def mask_name(value: str | None) -> str | None:
    return None if value is None else value[:1] + "*"


def mask_keep_last4(value: str | None) -> str | None:
    return None if value is None else "*" * max(len(value) - 4, 0) + value[-4:]


def mask_column(column: str):
    """A Spark column: ``column`` masked when it is an identifier, else as it is (as a string)."""
    from pyspark.sql import functions as F

    col = F.col(column).cast("string")
    if column in NAME_COLUMNS:
        return F.when(col.isNotNull(), F.concat(F.substring(col, 1, 1), F.lit("*")))
    if column in KEEP_LAST4_COLUMNS:
        return F.when(col.isNotNull(), F.concat(F.repeat(F.lit("*"), F.greatest(F.length(col) - 4, F.lit(0))),
                                                F.expr(f"right(cast(`{column}` as string), 4)")))
    return col
