"""Planted volume drops: a feed that silently loses most of its visits for a few days.

``generate(..., volume_drops={"h02_dongcheng": ("2026-10-12", 5, 0.1)})`` keeps
only 10% of the visits h02_dongcheng admitted on 2026-10-12 .. 2026-10-16
(with their diagnoses, prescriptions and lab results, and the later discharge
update of a dropped stay). Patients and master data stay complete, so no
foreign key dangles and the injected defects (applied after the drop) stay
exact in the ground truth. A hospital with two feeds (ADT + HIS) loses the
visits in both. Drops apply within the ``days`` window (not to ``follow_on_days``). The truth
manifest records each drop and the records it removed under ``arguments.volume_drops``. The quality
anomaly level must flag such a drop.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import NamedTuple

from carelake.generate.activity import Day

VISIT_ENTITIES = ("diagnoses", "prescriptions", "lab_results")


class VolumeDrop(NamedTuple):
    first_date: str  # YYYY-MM-DD
    days: int
    keep_fraction: float

    def dates(self) -> set[date]:
        first = date.fromisoformat(self.first_date)
        return {first + timedelta(days=n) for n in range(self.days)}


def resolve_drops(volume_drops: dict[str, tuple] | None, known_sources: list[str]) -> dict[str, VolumeDrop]:
    """Validate ``{source_id: (first_date, days, keep_fraction)}``; a clear error names the bad entry."""
    drops = {}
    for source_id, spec in (volume_drops or {}).items():
        if source_id not in known_sources:
            raise ValueError(f"volume_drops: unknown source {source_id!r} (generated sources: {', '.join(known_sources)})")
        try:
            drop = VolumeDrop(str(spec[0]), int(spec[1]), float(spec[2]))
            drop.dates()
        except (TypeError, ValueError, IndexError) as error:
            raise ValueError(f"volume_drops[{source_id!r}]: expected (first_date YYYY-MM-DD, days, keep_fraction), got {spec!r}") from error
        if drop.days < 1 or not 0 <= drop.keep_fraction < 1:
            raise ValueError(f"volume_drops[{source_id!r}]: days must be >= 1 and keep_fraction in [0, 1), got {spec!r}")
        drops[source_id] = drop
    return drops


def apply_drop(days: list[Day], start: date, drop: VolumeDrop, rng: random.Random) -> dict[str, int]:
    """Thin one hospital's days in place; returns the number of records dropped per entity."""
    dropped_visits: set[str] = set()
    for index, day in enumerate(days):
        if start + timedelta(days=index) in drop.dates():
            dropped_visits.update(e["encounter_source_id"] for e in day["encounters"]
                                  if e["admit_time"].date() == start + timedelta(days=index) and rng.random() >= drop.keep_fraction)
    counts = dict.fromkeys(("encounters", *VISIT_ENTITIES), 0)
    for day in days:
        for entity in counts:
            kept = [r for r in day[entity] if r["encounter_source_id"] not in dropped_visits]
            counts[entity] += len(day[entity]) - len(kept)
            day[entity] = kept
    return counts
