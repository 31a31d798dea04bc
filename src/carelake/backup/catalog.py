"""The catalog's part of a backup: databases, tables and views as data, and their re-creation elsewhere.

The metastore's own database (Derby files under ``<lake>/_catalog``) holds absolute paths and cannot be
copied consistently while it serves other processes, so a backup records the catalog logically:
every database with its location, every table with its type, provider and location, every view
with its ``SHOW CREATE TABLE`` statement. Locations under the lake root are stored relative to it
(``lake:bronze/patients``) and the root inside view statements as a token (staging views read archived
bronze by path), so a restore into another root points the catalog at the restored files.

Restored tables are registered with ``CREATE TABLE … USING <provider> LOCATION …``, i.e. as external
tables over the restored files (Delta refuses a *managed* table over a non-empty folder); data,
schema, properties and history come from the Delta log and are identical. Views are re-created in
dependency order (a view that names a view not yet created is retried after the others).
"""

from __future__ import annotations

import re
from pathlib import Path

LAKE_PREFIX = "lake:"
LAKE_ROOT_TOKEN = "<carelake:lake_root>"  # in stored view statements (a view may read an archive by path)


def _relative_location(location: str, lake_root: Path) -> str:
    path = location.removeprefix("file:")
    root = str(Path(lake_root).resolve())
    if path == root or path.startswith(root + "/"):
        return LAKE_PREFIX + path[len(root):].lstrip("/")
    return location


def resolve_location(stored: str, lake_root: Path) -> str:
    """A stored location as a path under ``lake_root`` (relative ones) or as it was (absolute ones)."""
    if stored.startswith(LAKE_PREFIX):
        return str(Path(lake_root) / stored.removeprefix(LAKE_PREFIX))
    return stored


def _field(information: str, key: str) -> str | None:
    found = re.search(rf"^{re.escape(key)}: (.*)$", information, re.M)
    return found.group(1).strip() if found else None


def dump_catalog(spark, lake_root: Path) -> dict:
    """{"databases": [{name, location}], "objects": [{name, type, provider, location | ddl}]}."""
    databases, objects = [], []
    for row in spark.sql("SHOW DATABASES").collect():
        db = row[0]
        described = {r[0]: r[1] for r in spark.sql(f"DESCRIBE DATABASE EXTENDED `{db}`").collect()}
        databases.append({"name": db, "location": _relative_location(described.get("Location", ""), lake_root)})
        for table in spark.sql(f"SHOW TABLE EXTENDED IN `{db}` LIKE '*'").collect():
            if table.isTemporary:
                continue
            name = f"{db}.{table.tableName}"
            kind = _field(table.information, "Type") or "UNKNOWN"
            if kind == "VIEW":
                ddl = spark.sql(f"SHOW CREATE TABLE {name}").first()[0].replace(str(Path(lake_root).resolve()),
                                                                                  LAKE_ROOT_TOKEN)
                objects.append({"name": name, "type": kind, "ddl": ddl})
            else:
                objects.append({"name": name, "type": kind, "provider": _field(table.information, "Provider"),
                                "location": _relative_location(_field(table.information, "Location") or "", lake_root)})
    return {"databases": databases, "objects": objects}


def restore_catalog(spark, lake_root: Path, catalog: dict) -> list[str]:
    """Create the databases, tables and views of ``catalog`` with locations under ``lake_root``;
    return one line per object that could not be created (empty: all of them were)."""
    problems: list[str] = []
    existing = {row[0] for row in spark.sql("SHOW DATABASES").collect()}
    for db in catalog["databases"]:
        if db["name"] not in existing:
            location = resolve_location(db["location"], lake_root) if db["location"] else ""
            spark.sql(f"CREATE DATABASE IF NOT EXISTS `{db['name']}`" + (f" LOCATION '{location}'" if location else ""))
    for obj in catalog["objects"]:
        if obj["type"] == "VIEW":
            continue
        location = resolve_location(obj["location"], lake_root)
        try:
            spark.sql(f"CREATE TABLE {obj['name']} USING {obj['provider'] or 'delta'} LOCATION '{location}'")
        except Exception as exc:  # noqa: BLE001 - reported per table, the restore goes on
            problems.append(f"{obj['name']}: {str(exc).splitlines()[0]}")
    pending = [obj for obj in catalog["objects"] if obj["type"] == "VIEW"]
    while pending:
        failed = []
        for view in pending:
            try:
                ddl = view["ddl"].replace(LAKE_ROOT_TOKEN, str(Path(lake_root).resolve()))
                spark.sql(re.sub(r"^CREATE VIEW ", "CREATE OR REPLACE VIEW ", ddl))
            except Exception as exc:  # noqa: BLE001 - retried once the views it reads exist
                failed.append((view, str(exc).splitlines()[0]))
        if len(failed) == len(pending):
            problems.extend(f"{view['name']}: {reason}" for view, reason in failed)
            break
        pending = [view for view, _ in failed]
    return problems
