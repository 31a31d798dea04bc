"""Classification and grading of every silver and gold column (``metadata/classification.yml``).

Each column gets a data **category** and a sensitivity **level** (1-5, in the spirit of GB/T 39725-2020):
first a per-table override (``overrides: {db.table: {column: ...}}``), else the first column-name rule
that matches (exact ``names`` or a ``pattern`` regex, full match, case-insensitive). A column that no
rule covers is *unclassified*: :func:`check` lists them and ``carelake classify --check`` exits 1.
The result is stored as the Delta table ``governance.column_classification`` (table, column, category,
level, rule) for the masked role views and the metadata catalogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CLASSIFICATION_TABLE = "governance.column_classification"


@dataclass(frozen=True)
class ColumnClass:
    table: str
    column: str
    category: str | None
    level: int | None
    rule: str | None
    data_type: str = "string"

    @property
    def classified(self) -> bool:
        return self.level is not None


@dataclass(frozen=True)
class _Rule:
    rule_id: str
    category: str
    level: int
    names: frozenset[str]
    pattern: re.Pattern | None

    def matches(self, column: str) -> bool:
        lowered = column.lower()
        return lowered in self.names or bool(self.pattern and self.pattern.fullmatch(lowered))


class ClassificationError(ValueError):
    """The classification file itself is wrong (unknown category or level, bad regex)."""


@dataclass
class Classification:
    layers: list[str]
    levels: dict[int, dict]
    categories: dict[str, str]
    rules: list[_Rule]
    overrides: dict[str, dict[str, dict]]

    def classify(self, table: str, column: str, data_type: str = "string") -> ColumnClass:
        override = self.overrides.get(table.lower(), {}).get(column.lower())
        if override:
            return ColumnClass(table, column, override["category"], int(override["level"]), f"override:{table}",
                               data_type)
        for rule in self.rules:
            if rule.matches(column):
                return ColumnClass(table, column, rule.category, rule.level, rule.rule_id, data_type)
        return ColumnClass(table, column, None, None, None, data_type)


def load_classification(settings=None, path: Path | None = None) -> Classification:
    import yaml

    if path is None:
        from carelake.config import load_settings

        path = (settings or load_settings()).metadata_dir / "classification.yml"
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    levels = {int(k): v for k, v in doc["levels"].items()}
    categories = dict(doc["categories"])

    def validated(where: str, spec: dict) -> tuple[str, int]:
        category, level = spec.get("category"), int(spec.get("level", 0))
        if category not in categories:
            raise ClassificationError(f"{path}: {where}: unknown category {category!r} (known: {sorted(categories)})")
        if level not in levels:
            raise ClassificationError(f"{path}: {where}: level {level} is not one of {sorted(levels)}")
        return category, level

    rules = []
    for spec in doc.get("rules", []):
        rule_id = spec.get("id") or f"rule{len(rules) + 1}"
        category, level = validated(f"rule {rule_id}", spec)
        try:
            pattern = re.compile(spec["pattern"], re.IGNORECASE) if spec.get("pattern") else None
        except re.error as exc:
            raise ClassificationError(f"{path}: rule {rule_id}: bad pattern: {exc}") from None
        rules.append(_Rule(rule_id, category, level, frozenset(n.lower() for n in spec.get("names", [])), pattern))
    overrides: dict[str, dict[str, dict]] = {}
    for table, columns in (doc.get("overrides") or {}).items():
        for column, spec in columns.items():
            validated(f"override {table}.{column}", spec)
            overrides.setdefault(table.lower(), {})[column.lower()] = spec
    return Classification(list(doc.get("layers", ["silver", "gold"])), levels, categories, rules, overrides)


def catalogue_columns(spark, layers: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, type) of every table and view in the given databases."""
    existing = {row[0] for row in spark.sql("SHOW DATABASES").collect()}
    out = []
    for layer in layers:
        if layer not in existing:
            continue
        for row in spark.sql(f"SHOW TABLES IN {layer}").collect():
            if row.isTemporary:
                continue
            table = f"{layer}.{row.tableName}"
            out.extend((table, f.name, f.dataType.simpleString()) for f in spark.table(table).schema.fields)
    return out


def classify_catalogue(spark, settings=None, classification: Classification | None = None) -> list[ColumnClass]:
    classification = classification or load_classification(settings)
    return [classification.classify(table, column, data_type)
            for table, column, data_type in catalogue_columns(spark, classification.layers)]


def unclassified(results: list[ColumnClass]) -> list[str]:
    return [f"{r.table}.{r.column}" for r in results if not r.classified]


def ensure_database(spark, settings, name: str) -> None:
    """Create a governance database (``governance``, a role's view schema) under the lake root."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {name} LOCATION '{Path(settings.lake_root) / name}'")


def store(spark, settings, results: list[ColumnClass]) -> int:
    """Overwrite ``governance.column_classification`` with the classified columns; returns the row count."""
    from pyspark.sql.types import StructType

    ensure_database(spark, settings, "governance")
    schema = StructType.fromDDL("table_name string, column_name string, category string, level int, rule string")
    rows = [(r.table, r.column, r.category, r.level, r.rule) for r in results if r.classified]
    spark.createDataFrame(rows, schema).write.format("delta").mode("overwrite") \
        .option("overwriteSchema", "true").saveAsTable(CLASSIFICATION_TABLE)
    return len(rows)
