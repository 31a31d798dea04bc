"""The audited ways to read the lake: ``carelake query`` and the notebook helper :func:`read_table`.

Both read only a role's masked views (``<layer>_<role>.<table>``, see :mod:`carelake.access.roles`)
and append one record per access to ``audit.access_log`` (:mod:`carelake.access.audit`).
A query names tables by their layer (``gold.person``); carelake rewrites each name to the role's
view and refuses layers the role may not see and any statement other than a read.
"""

from __future__ import annotations

import re

from carelake.spark import LAYERS

# a table name written as layer.table, optionally with the catalog and backticks
_TABLE_REF = re.compile(r"(?<![\w`.])(?:`?spark_catalog`?\.)?`?(\w+)`?\.`?(\w+)`?", re.IGNORECASE)
_FILE_FORMATS = {"delta", "parquet", "csv", "json", "orc", "text", "binaryfile", "avro"}
_READ_ONLY = re.compile(r"^\s*(\(\s*)*(select|with|values|table)\b", re.IGNORECASE)


class AccessDenied(PermissionError):
    """The role may not read what was asked (a layer outside its policy, or a statement that writes)."""


def _role(settings, role: str):
    from carelake.access.roles import load_roles

    roles = load_roles(settings)
    if role not in roles:
        raise AccessDenied(f"unknown role {role!r} (roles: {', '.join(sorted(roles))})")
    return roles[role]


def _view_for(spark, role, layer: str, table: str) -> str:
    if layer not in role.layers:
        raise AccessDenied(f"role {role.name!r} may not read layer {layer!r} (allowed: {', '.join(role.layers)})")
    view = f"{role.view_schema(layer)}.{table}"
    if not spark.catalog.tableExists(view):
        raise AccessDenied(f"no view {view}: the table does not exist, is not visible to role {role.name!r}, "
                           "or the views are not built (run `carelake views build`)")
    return view


def rewrite_query(spark, settings, sql: str, role: str) -> tuple[str, list[str]]:
    """Replace every ``layer.table`` in a read-only statement by the role's view; returns (sql, base tables)."""
    policy = _role(settings, role)
    if not _READ_ONLY.match(sql) or ";" in sql.strip().rstrip(";"):
        raise AccessDenied("only one read-only statement (SELECT / WITH / VALUES / TABLE) may be run through carelake")
    tables: list[str] = []
    databases = {row[0].lower() for row in spark.sql("SHOW DATABASES").collect()}

    def replace(match: re.Match) -> str:
        first, table = match.group(1).lower(), match.group(2).lower()
        if first in LAYERS:
            tables.append(f"{first}.{table}")
            return _view_for(spark, policy, first, table)
        if first in databases or first in _FILE_FORMATS:
            raise AccessDenied(f"{match.group(0)}: name base tables by layer (e.g. gold.person); view schemas, "
                               "other databases and file paths cannot be read directly")
        return match.group(0)  # alias.column and the like

    rewritten = _TABLE_REF.sub(replace, sql)
    if not tables:
        raise AccessDenied("name each table with its layer (e.g. gold.person)")
    return rewritten, sorted(set(tables))


def query(spark, settings, sql: str, role: str, user: str, purpose: str, limit: int | None = 1000):
    """Run a read-only query as a role; returns the rows (at most ``limit``) and records the access."""
    from carelake.access.audit import record_access

    rewritten, tables = rewrite_query(spark, settings, sql, role)
    frame = spark.sql(rewritten)
    rows = (frame.limit(limit) if limit else frame).collect()
    record_access(spark, settings, user=user, role=role, tables=tables, columns=frame.columns, rows=len(rows),
                  purpose=purpose, query_text=sql, action="query")
    return frame.columns, rows


def read_table(name: str, role: str, user: str, purpose: str, spark=None, settings=None, count_rows: bool = True):
    """Notebook helper: the role's masked view of ``layer.table`` as a Spark DataFrame, recorded in the audit log.

    ``rows_returned`` in the audit record is the view's row count (one Spark job) unless ``count_rows=False``.
    """
    from carelake.access.audit import record_access
    from carelake.config import load_settings
    from carelake.spark import get_spark

    settings = settings or load_settings()
    spark = spark or get_spark(settings)
    if name.count(".") != 1:
        raise AccessDenied(f"name the table with its layer, e.g. gold.person (got {name!r})")
    layer, table = name.lower().split(".")
    view = _view_for(spark, _role(settings, role), layer, table)
    frame = spark.table(view)
    record_access(spark, settings, user=user, role=role, tables=[f"{layer}.{table}"], columns=frame.columns,
                  rows=frame.count() if count_rows else None, purpose=purpose,
                  query_text=f"read_table({name!r})", action="read_table")
    return frame
