"""A dry run of one registry entry over its landed files (``carelake sources check <source>``).

Every file goes through the ingest's own parsing and mapping (:func:`carelake.ingest.runner.parse_file`)
but nothing is written: per file the records that would reach bronze and quarantine (with the reasons),
and per entity the required canonical columns that no source column maps to and code columns whose
values match no known code system. Errors (exit 1): no file found, a file that fails, a required column
unmapped. Quarantined records and unknown code systems are warnings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from carelake.registry import Registry, SourceSpec

CODE_COLUMNS = {"diagnoses": "diagnosis_code", "lab_results": "lab_code", "prescriptions": "drug_code"}


@dataclass
class FileCheck:
    entity: str
    path: str
    status: str  # loaded | failed
    records: int
    bronze: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass
class CheckReport:
    source_id: str
    files: list[FileCheck] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def totals(self) -> dict[str, int]:
        return {"files": len(self.files), "records": sum(f.records for f in self.files),
                "bronze": sum(f.bronze for f in self.files), "quarantined": sum(f.quarantined for f in self.files)}


def _code_system_warning(entity: str, column: str, values: list[str]) -> str | None:
    from carelake.onboarding.profile import CODE_SYSTEMS

    values = [v.strip() for v in values if v and v.strip()][:500]
    if not values:
        return None
    for _system, test in CODE_SYSTEMS:
        if sum(1 for v in values if test(v, column)) / len(values) >= 0.9:
            return None
    return (f"{entity}.{column}: values ({', '.join(sorted(set(values))[:3])}...) match no known code system "
            "(ICD-10, SNOMED CT, LOINC, RxNorm); they are staged as local codes")


def check_source(registry: Registry, source: SourceSpec, date: str | None = None) -> CheckReport:
    from carelake.ingest.landed import LandedFile, sha256_of
    from carelake.ingest.runner import parse_file

    report = CheckReport(source.id)
    if source.format == "jdbc":
        report.errors.append(f"{source.id}: a jdbc source has no landed files; `carelake sources pull {source.id}` pulls it")
        return report
    for entity in source.entities.values():
        missing = [c for c in registry.required_columns(entity) if c not in entity.columns.values()]
        if missing:
            report.errors.append(f"{entity.name}: required column(s) not mapped: {', '.join(missing)}")
        files = registry.landed_files(source, entity, date)
        if not files:
            report.errors.append(f"{entity.name}: no file matches {registry.expand_path(entity.path)}")
        code_values: list[str] = []
        for path, extract_date in files:
            landed = LandedFile(source, entity, Path(path), extract_date, sha256_of(path), Path(path).stat().st_size)
            part = parse_file(registry, landed)
            outcome = part.outcome
            reasons = Counter(r.reason for r in part.rejected)
            report.files.append(FileCheck(entity.name, str(path), outcome.status, outcome.rows_read, outcome.rows_bronze,
                                          outcome.rows_quarantined, dict(reasons), outcome.error))
            if outcome.status == "failed":
                report.errors.append(f"{path}: {outcome.error}")
            elif outcome.rows_quarantined:
                report.warnings.append(f"{path}: {outcome.rows_quarantined} record(s) would be quarantined "
                                       f"({'; '.join(f'{r} x{n}' for r, n in reasons.most_common(3))})")
            code_column = CODE_COLUMNS.get(entity.name)
            if part.parsed is not None and code_column in part.names:
                at = part.names.index(code_column)
                code_values += [row[at] for row in part.parsed.good_rows()[:200]]
        code_column = CODE_COLUMNS.get(entity.name)
        warning = _code_system_warning(entity.name, code_column, code_values) if code_column else None
        if warning:
            report.warnings.append(warning)
    return report


def with_entries(registry: Registry, entries: list[dict]) -> Registry:
    """The registry plus (or with replaced) proposed entries, validated like the file."""
    from carelake.registry import RegistryError

    try:
        added = [SourceSpec.model_validate(e) for e in entries]
    except ValueError as exc:
        raise RegistryError(f"proposed entry is not valid: {exc}") from None
    ids = {s.id for s in added}
    return Registry(sources=[s for s in registry.sources if s.id not in ids] + added, entities=registry.entities,
                    settings=registry.settings)


def render(report: CheckReport, console) -> None:
    from rich.table import Table

    table = Table(title=f"dry run of {report.source_id} (nothing written)")
    for name in ("entity", "file", "status", "records", "bronze", "quarantine", "reasons"):
        table.add_column(name)
    for f in report.files:
        reasons = f.error or "; ".join(f"{r} x{n}" for r, n in f.reasons.items())
        table.add_row(f.entity, Path(f.path).name, f.status, str(f.records), str(f.bronze), str(f.quarantined), reasons[:100])
    console.print(table)
    for warning in report.warnings:
        console.print(f"[yellow]warning[/]: {warning}")
    for error in report.errors:
        console.print(f"[red]error[/]: {error}")
    totals = report.totals()
    console.print(f"{totals['files']} file(s), {totals['records']} record(s): {totals['bronze']} -> bronze, "
                  f"{totals['quarantined']} -> quarantine; {'OK' if report.ok else f'{len(report.errors)} error(s)'}")
