"""``metadata/quality/thresholds.yml``: thresholds per dimension and rule, source-level mapping, lab ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from carelake.quality.suites import DIMENSIONS


class ThresholdsError(ValueError):
    pass


@dataclass(frozen=True)
class Thresholds:
    raw: dict
    path: Path

    def max_unexpected_percent(self, rule_id: str, dimension: str) -> float:
        rule = self.raw.get("rules", {}).get(rule_id)
        if rule is not None:
            return float(rule["max_unexpected_percent"])
        return float(self.raw["dimensions"][dimension]["max_unexpected_percent"])

    def min_score(self, dimension: str) -> float:
        return float(self.raw["dimensions"][dimension]["min_score"])

    @property
    def failed_row_samples(self) -> int:
        return int(self.raw.get("failed_row_samples", 5))

    @property
    def late_after_days(self) -> int:
        return int(self.raw["timeliness"]["late_after_days"])

    def freshness_tolerance_days(self, schedule: str) -> int | None:
        return self.raw["timeliness"]["freshness_tolerance_days"].get(schedule)

    @property
    def plausible_lab_values(self) -> dict[str, dict]:
        return {str(code): spec for code, spec in self.raw.get("plausible_lab_values", {}).items()}

    @property
    def defect_rates(self) -> dict[str, dict]:
        return self.raw.get("defect_rates", {})

    def quarantine_dimension(self, reason: str | None) -> str:
        section = self.raw["source_level"]
        for entry in section.get("quarantine_reasons", []):
            if re.search(entry["match"], reason or ""):
                return entry["dimension"]
        return section["default_dimension"]

    @property
    def failed_file_dimension(self) -> str:
        return self.raw["source_level"]["failed_file_dimension"]


def load_thresholds(settings, path: Path | None = None) -> Thresholds:
    import yaml

    path = path or settings.metadata_dir / "quality" / "thresholds.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    problems = []
    for dimension in DIMENSIONS:
        spec = raw.get("dimensions", {}).get(dimension)
        if not spec:
            problems.append(f"dimensions.{dimension}: missing")
            continue
        for key in ("max_unexpected_percent", "min_score", "reason"):
            if spec.get(key) in (None, ""):
                problems.append(f"dimensions.{dimension}.{key}: missing")
    for rule_id, spec in raw.get("rules", {}).items():
        if spec.get("max_unexpected_percent") is None or not spec.get("reason"):
            problems.append(f"rules.{rule_id}: needs max_unexpected_percent and reason")
    for entry in raw.get("source_level", {}).get("quarantine_reasons", []):
        if entry.get("dimension") not in DIMENSIONS:
            problems.append(f"source_level.quarantine_reasons {entry.get('match')!r}: unknown dimension")
    if problems:
        raise ThresholdsError(f"{path}: " + "; ".join(problems))
    return Thresholds(raw, path)
