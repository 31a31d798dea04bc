"""Source column names -> bronze column names (registry mapping, else a sanitised form)."""

from __future__ import annotations

import re

LINEAGE_COLUMNS = (
    "_source_id",
    "_source_file",
    "_file_sha256",
    "_batch_id",
    "_row_number",
    "_extract_date",
    "_ingested_at",
)

_INVALID = re.compile(r"[^\w]+", re.UNICODE)


def sanitize(name: str) -> str:
    """A Delta-safe, lower-case column name that keeps letters of any script (e.g. 姓名)."""
    cleaned = _INVALID.sub("_", name.strip().lower()).strip("_")
    if not cleaned:
        return "col"
    return f"c_{cleaned}" if cleaned[0].isdigit() else cleaned


def bronze_names(source_columns: list[str], mapping: dict[str, str]) -> list[str]:
    """Bronze name for each source column, unique, never colliding with lineage columns."""
    # mapping keys are matched exactly first, then ignoring case and surrounding space
    loose = {k.strip().lower(): v for k, v in mapping.items()}
    names: list[str] = []
    taken = set(LINEAGE_COLUMNS) | set(mapping.values())
    for column in source_columns:
        target = mapping.get(column) or loose.get(column.strip().lower())
        if target is None:
            base = sanitize(column)
            target, n = base, 2
            while target in taken or target in names:
                target, n = f"{base}_{n}", n + 1
        elif target in names:  # two source columns resolve to one target (e.g. duplicate header)
            base, n = target, 2
            while f"{base}_{n}" in names:
                n += 1
            target = f"{base}_{n}"
        names.append(target)
    return names
