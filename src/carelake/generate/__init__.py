"""Deterministic synthetic multi-hospital extracts, with ground truth.

    from carelake.generate import generate, registry_entries
    summary = generate(Path("landing"), hospitals=4, patients=300, days=2, seed=42)

``generate`` writes ``<out_dir>/<source_id>/<YYYY-MM-DD>/<file>`` for each day
and ``<out_dir>/_truth/`` (persons, defects, files, manifest, local lab code
map). Same arguments give byte-identical files. ``patients`` is the number of
patients each hospital registers; ``overlap`` the share of them also registered
at one other hospital. ``registry_entries`` gives the matching
``metadata/sources.yml`` entries.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from carelake.generate.activity import HospitalSimulation
from carelake.generate.defects import DIMENSIONS, inject, resolve_rates
from carelake.generate.extracts import ExtractWriter
from carelake.generate.layouts import plan_hospitals
from carelake.generate.population import PersonFactory, build_population
from carelake.generate.registry_entries import lab_code_map_csv, registry_entries
from carelake.generate.truth import GenerationSummary, PersonEntry, write_truth

__all__ = ["DIMENSIONS", "GenerationSummary", "generate", "registry_entries"]


def generate(out_dir: Path, hospitals: int = 4, patients: int = 300, days: int = 2, start_date: str = "2026-10-01",
             seed: int = 42, defect_rates: dict[str, float] | None = None, overlap: float = 0.3) -> GenerationSummary:
    if hospitals < 1 or patients < 1 or days < 1:
        raise ValueError("hospitals, patients and days must be at least 1")
    if not 0 <= overlap <= 1:
        raise ValueError(f"overlap must be between 0 and 1, got {overlap}")
    out_dir = Path(out_dir)
    start = date.fromisoformat(start_date)
    rates = resolve_rates(defect_rates)
    rng = random.Random(seed)
    factory = PersonFactory(seed)
    plan = plan_hospitals(hospitals)
    persons, members = build_population(factory, hospitals, patients, overlap, rng, start)
    writer = ExtractWriter(out_dir, start)
    person_entries: list[PersonEntry] = []
    doctor_pool: list[dict] = []
    for h, member_indexes in zip(plan, members, strict=True):
        simulation = HospitalSimulation(h, persons, member_indexes, factory, doctor_pool, start, days, seed)
        hospital_days = simulation.run(doctor_pool)
        inject(hospital_days, rates, random.Random(f"{seed}:{h.base_id}:defects"))
        writer.hospital(h, hospital_days)
        patient_source = h.source_ids.get("adt", h.base_id)
        person_entries.extend(PersonEntry(patient_source, reg.patient_id, reg.person.key, ";".join(reg.record["_variations"]))
                              for reg in simulation.registrations)
    truth_dir = out_dir / "_truth"
    arguments = {"hospitals": hospitals, "patients": patients, "days": days, "start_date": start_date, "seed": seed,
                 "overlap": overlap}
    counts = write_truth(truth_dir, writer.files, writer.defects, person_entries, arguments, rates)
    (truth_dir / "local_lab_codes.csv").write_text(lab_code_map_csv(hospitals), encoding="utf-8")
    sources = [entry["id"] for entry in registry_entries(hospitals)]
    return GenerationSummary(out_dir=out_dir, sources=sources, files=writer.files,
                             total_records=sum(f.records for f in writer.files), truth_dir=truth_dir, defects=counts,
                             persons=len({p.person_key for p in person_entries}))
