"""``carelake metadata check``: the dictionary, data map and master-data registry against the live catalog.

Errors (exit 1): a gold column without a dictionary entry, a documented column or table that does not exist
(unless the data map lists it as planned), a documented ``data_type`` that differs from the table's (drift),
an indicator reading a column that does not exist, an OMOP reference that is not an OMOP CDM v5.4 field,
a gold table in no domain, a data-map or master-data table that does not exist (unless planned).
Warnings: bronze tables no domain pattern covers. Planned tables not built yet are listed, not failed.
"""

from __future__ import annotations

import csv
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from carelake.metadata.dictionary import Dictionary, load_dictionary

OMOP_FIELDS_CSV = Path("data/reference/omop-cdm-5.4/csv/OMOP_CDMv5.4_Field_Level.csv")


@dataclass(frozen=True)
class Finding:
    kind: str       # undocumented | not_in_lake | type_drift | indicator | omop_reference | data_map | master_data
    subject: str    # layer.table[.column] or a file entry
    message: str

    def __str__(self) -> str:
        return f"{self.kind:<15} {self.subject}: {self.message}"


@dataclass
class CheckReport:
    elements: int = 0
    indicators: int = 0
    live_gold_columns: int = 0
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def by_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.errors if f.kind == kind]

    def summary(self) -> str:
        lines = [f"dictionary: {self.elements} elements + {self.indicators} indicators; "
                 f"live gold columns: {self.live_gold_columns}; "
                 f"{len(self.errors)} error(s), {len(self.warnings)} warning(s), {len(self.planned)} planned not built"]
        lines += [f"ERROR   {f}" for f in self.errors]
        lines += [f"WARNING {f}" for f in self.warnings]
        lines += [f"PLANNED {t}: listed in metadata/data_map.yml, not built yet" for t in self.planned]
        return "\n".join(lines)


def live_columns(spark, layers: list[str]) -> dict[str, dict[str, str]]:
    """{layer.table: {column: spark simple type}} of the tables (not views) in the given databases."""
    from carelake.access.classification import catalogue_columns

    out: dict[str, dict[str, str]] = {}
    for table, column, data_type in catalogue_columns(spark, layers):
        out.setdefault(table, {})[column] = data_type
    return out


def omop_fields(settings) -> set[str] | None:
    path = Path(settings.shared_dir) / OMOP_FIELDS_CSV
    if not path.exists():
        return None
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {f"{r['cdmTableName'].lower()}.{r['cdmFieldName'].lower()}" for r in csv.DictReader(handle)}


def _check_elements(dictionary: Dictionary, live: dict, planned: set[str], report: CheckReport) -> None:
    documented = dictionary.by_table()
    for table, elements in documented.items():
        if table not in live:
            if table in planned:
                report.planned.append(table)
            else:
                report.errors.append(Finding("not_in_lake", table, f"documented in {elements[0].source_file} but "
                                                                   "the table does not exist"))
            continue
        for element in elements:
            actual = live[table].get(element.column)
            if actual is None:
                report.errors.append(Finding("not_in_lake", element.id, f"documented in {element.source_file} but "
                                                                        "the column does not exist"))
            elif actual.lower() != element.data_type:
                report.errors.append(Finding("type_drift", element.id,
                                             f"documented as {element.data_type}, the table has {actual}"))
    for table, columns in live.items():
        if not table.startswith("gold."):
            continue
        known = {e.column for e in documented.get(table, [])}
        for column, data_type in columns.items():
            if column not in known:
                report.errors.append(Finding("undocumented", f"{table}.{column}",
                                             f"gold column ({data_type}) has no dictionary entry"))


def _check_references(dictionary: Dictionary, live: dict, omop: set[str] | None, report: CheckReport) -> None:
    for indicator in dictionary.indicators.values():
        for ref in indicator.based_on:
            table, _, column = ref.rpartition(".")
            if column not in live.get(table, {}):
                report.errors.append(Finding("indicator", indicator.id, f"based_on {ref}: no such column in the lake"))
    if omop is None:
        report.warnings.append(Finding("omop_reference", str(OMOP_FIELDS_CSV), "OMOP spec CSV not found; skipped"))
        return
    for element in dictionary.elements.values():
        if element.omop and element.omop.lower() not in omop:
            report.errors.append(Finding("omop_reference", element.id,
                                         f"standard.omop {element.omop} is not an OMOP CDM v5.4 field"))


def _check_data_map(dictionary: Dictionary, live: dict, bronze: list[str], report: CheckReport) -> None:
    data_map = dictionary.data_map
    planned = data_map.planned()
    mapped = {t for d in data_map.domains.values() for t in d.tables()}
    for domain in data_map.domains.values():
        for table in domain.tables():
            if table not in live and table not in planned:
                report.errors.append(Finding("data_map", table, f"listed under domain {domain.id} but does not exist"))
    for table in live:
        if table.startswith("gold.") and table not in mapped:
            report.errors.append(Finding("data_map", table, "gold table in no domain of metadata/data_map.yml"))
    patterns = [p for d in data_map.domains.values() for p in d.bronze]
    for table in bronze:
        name = table.split(".", 1)[1]
        if not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            report.warnings.append(Finding("data_map", table, "bronze table matches no domain's bronze pattern"))
    for table in sorted(planned - set(live)):
        if table not in report.planned:
            report.planned.append(table)


def _check_master_data(settings, live: dict, report: CheckReport) -> None:
    import yaml

    path = Path(settings.metadata_dir) / "master_data.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for kind, spec in (doc.get("kinds") or {}).items():
        for key in ("golden_table", "xref_table"):
            table = spec.get(key)
            if table and table not in live:
                report.errors.append(Finding("master_data", f"{kind}.{key}", f"{table} does not exist"))
            elif table and spec["id_column"] not in live[table]:
                report.errors.append(Finding("master_data", f"{kind}.{key}",
                                             f"{table} has no column {spec['id_column']}"))


def check(spark, settings, dictionary: Dictionary | None = None) -> CheckReport:
    """Compare the dictionary, the data map and the master-data registry with the live catalog."""
    dictionary = dictionary or load_dictionary(settings)
    live = live_columns(spark, ["silver", "gold"])
    bronze = [row.tableName for row in spark.sql("SHOW TABLES IN bronze").collect() if not row.isTemporary]
    report = CheckReport(len(dictionary.elements), len(dictionary.indicators),
                         sum(len(c) for t, c in live.items() if t.startswith("gold.")))
    _check_elements(dictionary, live, dictionary.data_map.planned(), report)
    _check_references(dictionary, live, omop_fields(settings), report)
    _check_data_map(dictionary, live, [f"bronze.{t}" for t in bronze], report)
    _check_master_data(settings, live, report)
    return report
