"""Deterministic synthetic multi-hospital extracts, with ground truth.

    from carelake.generate import generate, registry_entries
    summary = generate(Path("landing"), hospitals=4, patients=300, days=2, seed=42)

``generate`` writes ``<out_dir>/<source_id>/<YYYY-MM-DD>/<file>`` for each day
(a hospital's PACS: ``<YYYY-MM-DD>/<visit>/SE<nn>/IM<nnnn>.dcm``, :mod:`carelake.generate.imaging`)
and ``<out_dir>/_truth/`` (persons, defects, files, manifest, local lab code
map, notes' planted PII, imaging studies and bad files). Same arguments give byte-identical files. ``patients`` is the number of
patients each hospital registers; ``overlap`` the share of them also registered
at one other hospital. ``registry_entries`` gives the matching
``metadata/sources.yml`` entries.

Daily loads: ``follow_on_days=k`` simulates k more days after the ``days`` window
(newcomers at the window's daily rate, returning patients, discharges, updates), each
day from its own random stream, so the first ``days`` days are byte-identical to
``generate(days=days)`` and day ``days + j`` is the same for every k > j; the truth
files of a longer run extend the shorter run's rows. ``only_dates`` writes only those
extract dates' files (with the full truth): landing "tomorrow" into a folder that
already holds the earlier days::

    generate(landing, days=61, start_date="2026-09-01", follow_on_days=1, only_dates=["2026-11-01"])
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from carelake.generate.activity import HospitalSimulation
from carelake.generate.defects import DIMENSIONS, inject, resolve_rates
from carelake.generate.extracts import ExtractWriter
from carelake.generate.imaging import ImagingWriter, pacs_source_id
from carelake.generate.imaging import write_truth as write_imaging_truth
from carelake.generate.layouts import CSV_LAYOUTS, plan_hospitals
from carelake.generate.notes import NoteWriter
from carelake.generate.notes import write_truth as write_notes_truth
from carelake.generate.population import Arrivals, PersonFactory, build_population
from carelake.generate.registry_entries import lab_code_map_csv, registry_entries
from carelake.generate.truth import GenerationSummary, PersonEntry, write_truth
from carelake.generate.volume_drops import apply_drop, resolve_drops

__all__ = ["DIMENSIONS", "GenerationSummary", "generate", "registry_entries"]


def generate(out_dir: Path, hospitals: int = 4, patients: int = 300, days: int = 2, start_date: str = "2026-10-01",
             seed: int = 42, defect_rates: dict[str, float] | None = None, overlap: float = 0.3,
             volume_drops: dict[str, tuple] | None = None, follow_on_days: int = 0,
             only_dates: Iterable[str] | None = None) -> GenerationSummary:
    if hospitals < 1 or patients < 1 or days < 1 or follow_on_days < 0:
        raise ValueError("hospitals, patients and days must be at least 1, follow_on_days at least 0")
    if not 0 <= overlap <= 1:
        raise ValueError(f"overlap must be between 0 and 1, got {overlap}")
    out_dir = Path(out_dir)
    start = date.fromisoformat(start_date)
    rates = resolve_rates(defect_rates)
    drops = resolve_drops(volume_drops, [entry["id"] for entry in registry_entries(hospitals)])
    rng = random.Random(seed)
    factory = PersonFactory(seed)
    plan = plan_hospitals(hospitals)
    persons, members = build_population(factory, hospitals, patients, overlap, rng, start)
    writer = ExtractWriter(out_dir, start, None if only_dates is None else set(only_dates))
    person_entries: list[PersonEntry] = []
    simulations: list[HospitalSimulation] = []
    doctor_pool: list[dict] = []
    dropped: dict[str, dict[str, int]] = {}
    note_writers: dict[str, NoteWriter] = {}
    imaging_writers: dict[str, ImagingWriter] = {}
    for h, member_indexes in zip(plan, members, strict=True):
        simulation = HospitalSimulation(h, persons, member_indexes, factory, doctor_pool, start, days, seed)
        simulations.append(simulation)
        hospital_days = simulation.run(doctor_pool)
        drop_source = next((s for s in h.source_ids.values() if s in drops), None)
        if drop_source:  # a planted volume drop, applied before the defects so the defect truth stays exact
            dropped[drop_source] = apply_drop(hospital_days, start, drops[drop_source], random.Random(f"{seed}:{drop_source}:drop"))
        if pacs_source_id(h):  # imaging studies of the clean visits, from a stream of their own
            imaging_writers[h.base_id] = ImagingWriter(h, writer, simulation.persons_by_id(), simulation.doctors)
            imaging_writers[h.base_id].days(hospital_days, random.Random(f"{seed}:{h.base_id}:imaging"))
        inject(hospital_days, rates, random.Random(f"{seed}:{h.base_id}:defects"))
        if h.layout in CSV_LAYOUTS:  # clinical notes with planted PII, from a stream of their own
            note_writers[h.base_id] = NoteWriter(h.base_id, CSV_LAYOUTS[h.layout].language, factory, simulation.persons_by_id())
            note_writers[h.base_id].days(hospital_days, random.Random(f"{seed}:{h.base_id}:notes"))
        writer.hospital(h, hospital_days)
        person_entries.extend(simulation.person_entries())
    arrivals = Arrivals(factory, persons, overlap, seed, start)
    for day in range(days, days + follow_on_days):  # day by day across hospitals: day k is the same whatever follows it
        for simulation in simulations:
            registered = len(simulation.registrations)
            newcomers = arrivals.draw(simulation.daily_registrations, simulation.person_keys)
            records = simulation.follow_on_day(day, newcomers, doctor_pool)
            if simulation.h.base_id in imaging_writers:
                imaging_writers[simulation.h.base_id].persons = simulation.persons_by_id()
                imaging_writers[simulation.h.base_id].days([records], random.Random(f"{seed}:{simulation.h.base_id}:imaging:day{day}"),
                                                           first_day=day)
            inject([records], rates, random.Random(f"{seed}:{simulation.h.base_id}:defects:day{day}"))
            if simulation.h.base_id in note_writers:
                note_writers[simulation.h.base_id].registrations = simulation.persons_by_id()
                note_writers[simulation.h.base_id].days([records], random.Random(f"{seed}:{simulation.h.base_id}:notes:day{day}"))
            writer.hospital(simulation.h, [records], first_day=day)
            person_entries.extend(simulation.person_entries(registered))
    truth_dir = out_dir / "_truth"
    arguments = {"hospitals": hospitals, "patients": patients, "days": days, "start_date": start_date, "seed": seed,
                 "overlap": overlap}
    if follow_on_days:
        arguments["follow_on_days"] = follow_on_days
    if drops:
        arguments["volume_drops"] = {source_id: {**drop._asdict(), "dropped_records": dropped.get(source_id, {})}
                                    for source_id, drop in drops.items()}
    counts = write_truth(truth_dir, writer.files, writer.defects, person_entries, arguments, rates)
    write_notes_truth(truth_dir, list(note_writers.values()), arrivals.persons)
    write_imaging_truth(truth_dir, list(imaging_writers.values()))
    (truth_dir / "local_lab_codes.csv").write_text(lab_code_map_csv(hospitals), encoding="utf-8")
    sources = [entry["id"] for entry in registry_entries(hospitals)]
    return GenerationSummary(out_dir=out_dir, sources=sources, files=writer.files,
                             total_records=sum(f.records for f in writer.files), truth_dir=truth_dir, defects=counts,
                             persons=len({p.person_key for p in person_entries}))
