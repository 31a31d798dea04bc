"""Roles and masking policies (``metadata/privacy/roles.yml``) and the masked views built from them.

``carelake views build`` creates, per role and per layer it may see, a schema of views
``<layer>_<role>`` (e.g. ``gold_analyst.person``) whose columns are computed from the column's
sensitivity level (``governance.column_classification``) and the role's action for that level:

* ``clear``      the value as stored
* ``mask``       first character kept, the rest replaced by ``*`` (non-strings: NULL)
* ``hash``       ``sha2(<role salt> || value, 256)``: joinable inside one role's views, not across roles.
                 The salt is HMAC-SHA256(``CARELAKE_VIEW_SALT_KEY`` or the audit key, role) and is
                 written into the view text, which anyone allowed to read view definitions can see:
                 this is a consistency token, NOT a secret-grade pseudonym (those are the keyed
                 pseudonyms gold already carries instead of direct identifiers).
* ``generalise`` dates and times -> 1 January of their year, numbers -> their decade (floor to 10),
                 strings -> first 3 characters + ``*`` (e.g. a 6-digit area code -> its province prefix);
                 keys and concept ids (``*_id``) have no coarser form and are suppressed (NULL)
* ``remove``     the column is left out of the view

Access goes through these views only (:mod:`carelake.access.query`): a role never reads the base tables.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

ACTIONS = ("clear", "mask", "hash", "generalise", "remove")


class RolePolicyError(ValueError):
    """roles.yml is inconsistent (unknown action, clear above the role's max level, missing level)."""


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    layers: tuple[str, ...]
    max_clear_level: int
    actions: dict[int, str]

    def action(self, level: int) -> str:
        return self.actions[level]

    def view_schema(self, layer: str) -> str:
        return f"{layer}_{self.name}"


def load_roles(settings=None, path: Path | None = None) -> dict[str, Role]:
    import yaml

    if path is None:
        from carelake.config import load_settings

        path = (settings or load_settings()).metadata_dir / "privacy" / "roles.yml"
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    roles = {}
    for name, spec in doc["roles"].items():
        actions = {int(level): action for level, action in spec["actions"].items()}
        max_clear = int(spec["max_clear_level"])
        for level in range(1, 6):
            action = actions.get(level)
            if action not in ACTIONS:
                raise RolePolicyError(f"{path}: role {name}: level {level}: action {action!r} is not one of {ACTIONS}")
            if (action == "clear") != (level <= max_clear):
                raise RolePolicyError(f"{path}: role {name}: level {level} is {action!r} but max_clear_level is "
                                      f"{max_clear} (levels up to it must be clear, above it not)")
        roles[name] = Role(name, spec.get("description", ""), tuple(spec["layers"]), max_clear, actions)
    return roles


def _role_salt(settings, role: str) -> str:
    import os

    from carelake.access.audit import audit_key

    key = os.environ.get("CARELAKE_VIEW_SALT_KEY", "").encode("utf-8") or audit_key(settings)
    return hmac.new(key, f"view-salt:{role}".encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def column_expression(column: str, data_type: str, action: str, salt: str) -> str | None:
    """The Spark SQL select expression for one column under one action (None = removed)."""
    quoted = f"`{column.replace('`', '``')}`"
    if action == "clear":
        return quoted
    if action == "remove":
        return None
    if action == "hash":
        return f"sha2(concat('{salt}', cast({quoted} as string)), 256) as {quoted}"
    if action == "mask":
        if data_type == "string":
            return (f"case when {quoted} is null then null "
                    f"else concat(left({quoted}, 1), repeat('*', greatest(length({quoted}) - 1, 0))) end as {quoted}")
        return f"cast(null as {data_type}) as {quoted}"
    if action == "generalise":
        if column.lower().endswith("_id"):  # keys and concept ids have no coarser form: suppressed
            return f"cast(null as {data_type}) as {quoted}"
        if data_type in ("date", "timestamp", "timestamp_ntz"):
            return f"cast(make_date(year({quoted}), 1, 1) as {data_type}) as {quoted}"
        if data_type in ("tinyint", "smallint", "int", "bigint", "float", "double") or data_type.startswith("decimal"):
            return f"cast(floor({quoted} / 10) * 10 as {data_type}) as {quoted}"
        if data_type == "string":
            return f"case when {quoted} is null then null else concat(left({quoted}, 3), '*') end as {quoted}"
        return f"cast(null as {data_type}) as {quoted}"
    raise RolePolicyError(f"unknown action {action!r}")


@dataclass
class ViewsReport:
    views: dict[str, int]          # view name -> number of columns kept
    removed: dict[str, list[str]]  # view name -> columns left out

    def summary(self) -> str:
        schemas = sorted({v.split(".")[0] for v in self.views})
        return f"{len(self.views)} views in {len(schemas)} schemas: {', '.join(schemas)}"


def build_views(spark, settings, roles: dict[str, Role] | None = None, classified=None) -> ViewsReport:
    """(Re)create every role's view schemas; fails on an unclassified column. Also stores the classification.

    ``classified``: the result of :func:`~carelake.access.classification.classify_catalogue`, if already computed.
    """
    from carelake.access.classification import classify_catalogue, ensure_database, store, unclassified

    roles = roles or load_roles(settings)
    results = classified if classified is not None else classify_catalogue(spark, settings)
    missing = unclassified(results)
    if missing:
        raise RolePolicyError("cannot build masked views, unclassified columns: " + ", ".join(missing))
    store(spark, settings, results)
    by_table: dict[str, list] = {}
    for r in results:
        by_table.setdefault(r.table, []).append(r)
    report = ViewsReport({}, {})
    for role in roles.values():
        salt = _role_salt(settings, role.name)
        for layer in role.layers:
            schema = role.view_schema(layer)
            ensure_database(spark, settings, schema)
            wanted = {t for t in by_table if t.split(".")[0] == layer}
            for row in spark.sql(f"SHOW VIEWS IN {schema}").collect():  # views of tables that are gone
                if not row.isTemporary and f"{layer}.{row.viewName}" not in wanted:
                    spark.sql(f"DROP VIEW IF EXISTS {schema}.{row.viewName}")
            for table in sorted(wanted):
                view = f"{schema}.{table.split('.', 1)[1]}"
                exprs, removed = [], []
                for col in by_table[table]:
                    expr = column_expression(col.column, col.data_type, role.action(col.level), salt)
                    if expr:
                        exprs.append(expr)
                    else:
                        removed.append(col.column)
                if removed:
                    report.removed[view] = removed
                if not exprs:  # nothing visible: no view at all
                    spark.sql(f"DROP VIEW IF EXISTS {view}")
                    continue
                spark.sql(f"CREATE OR REPLACE VIEW {view} AS SELECT {', '.join(exprs)} FROM {table}")
                report.views[view] = len(exprs)
    return report
