"""carelake.generate: determinism, encodings, ground truth that matches the files, registry entries."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import hl7
import pytest
import yaml

from carelake.config import load_settings
from carelake.generate.registry_entries import lab_code_map_csv
from carelake.generate import generate, registry_entries
from carelake.generate import resident_id
from carelake.generate.population import PersonFactory, build_population
from carelake.generate.reference import ICD10_DIAGNOSES, LAB_TESTS
from carelake.registry import load_entities, load_registry

ARGS = dict(hospitals=4, patients=120, days=3, seed=7, defect_rates={t: 0.05 for t in (
    "missing_required", "invalid_code", "discharge_before_admission", "out_of_range_lab", "duplicate_record", "late_arriving")})
VALID_ICD10 = {code for code, _, _ in ICD10_DIAGNOSES}
PLAUSIBLE_MAX = {**{t.loinc: t.plausible_max for t in LAB_TESTS}, **{t.local_code: t.plausible_max for t in LAB_TESTS}}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    summary = generate(out, **ARGS)
    return out, summary


@pytest.fixture(scope="module")
def sources():
    return {entry["id"]: entry for entry in registry_entries(4)}


def _table(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# ---- reading the files back, counting records the way readers do -------------
def read_records(path: Path, source: dict) -> dict[int, object]:
    """row_number -> record (dict for CSV/NDJSON, (text, parsed message) for HL7)."""
    data = path.read_bytes()
    if source["format"] == "csv":
        options = source["csv"]
        reader = csv.reader(io.StringIO(data.decode(options["encoding"]), newline=""), delimiter=options["delimiter"])
        header = next(reader)
        records, start = {}, reader.line_num + 1
        for row in reader:
            records[start] = dict(zip(header, row, strict=True))
            start = reader.line_num + 1
        return records
    if source["format"] == "fhir_ndjson":
        return {n: json.loads(line) for n, line in enumerate(data.decode("utf-8").splitlines(), start=1)}
    messages = [m for m in data.decode("utf-8").split("\n") if m]
    return {n: (text, hl7.parse(text)) for n, text in enumerate(messages, start=1)}


def fhir_path(resource, path: str):
    value = resource
    for step in re.findall(r"[^.\[\]]+|\[[^\]]*\]", path):
        if value is None:
            return None
        if step.startswith("["):
            inner = step[1:-1]
            if "=" in inner:
                key, wanted = inner.split("=", 1)
                value = next((item for item in value if str(item.get(key)) == wanted), None)
            else:
                value = value[int(inner)] if int(inner) < len(value) else None
        else:
            value = value.get(step)
    return value


def canonical_getter(source: dict, entity: str):
    spec = source["entities"][entity]
    by_canonical = {canonical: src for src, canonical in spec.get("columns", {}).items()}
    if source["format"] == "csv":
        return lambda record, column: record[by_canonical[column]] or None
    return lambda record, column: fhir_path(record, by_canonical[column])


def hl7_field(message, ref: str) -> list[str]:
    """All values of e.g. 'PV1-44' in the message (one per segment of that type)."""
    name, number = ref.split("-")
    return [str(seg[int(number)]) if len(seg) > int(number) else "" for seg in message.segments(name)]


def parse_time(text: str, source: dict) -> datetime:
    if source["format"] == "hl7v2":
        return datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    if source["format"] == "fhir_ndjson":
        return datetime.fromisoformat(text).replace(tzinfo=None)
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    raise ValueError(text)


# ---- tests ---------------------------------------------------------------------
def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(generated, tmp_path):
    out, summary = generated
    again = generate(tmp_path / "again", **ARGS)
    assert digest(out) == digest(tmp_path / "again")
    assert again.total_records == summary.total_records
    other = generate(tmp_path / "other", **{**ARGS, "seed": 8})
    assert digest(tmp_path / "other") != digest(out)
    assert other.sources == summary.sources


def test_layout_and_summary(generated):
    out, summary = generated
    assert summary.sources == ["h01_riverside", "h01_riverside_pacs", "h02_dongcheng", "h02_dongcheng_pacs", "h03_xishan_chc",
                               "h04_nanhu_adt", "h04_nanhu_his", "h04_nanhu_pacs"]
    assert summary.truth_dir == out / "_truth"
    for name in ("persons.csv", "defects.csv", "files.csv", "manifest.json", "local_lab_codes.csv"):
        assert (summary.truth_dir / name).is_file()
    dates = {f.extract_date for f in summary.files}
    assert dates == {"2026-10-01", "2026-10-02", "2026-10-03"}
    for f in summary.files:
        assert f.file == f"{f.source_id}/{f.extract_date}/{Path(f.file).name}"
        assert (out / f.file).is_file()
    manifest = json.loads((summary.truth_dir / "manifest.json").read_text())
    assert manifest["total_records"] == summary.total_records
    assert manifest["arguments"]["patients"] == 120


def test_files_decode_in_declared_encoding(generated, sources):
    out, summary = generated
    for f in summary.files:
        source = sources[f.source_id]
        encoding = source.get("csv", {}).get("encoding", "utf-8") if source["format"] == "csv" else "utf-8"
        (out / f.file).read_bytes().decode(encoding)
    zh = out / "h02_dongcheng/2026-10-01/hzxx_patients.csv"
    raw = zh.read_bytes()
    assert raw.decode("gb18030").splitlines()[0].startswith("患者编号,身份证号,姓名,性别,出生日期")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert b"\r\n" in raw  # a Windows export


def test_record_counts_match_files(generated, sources):
    out, summary = generated
    for f in summary.files:
        assert len(read_records(out / f.file, sources[f.source_id])) == f.records, f.file
    listed = _table(summary.truth_dir / "files.csv")
    assert [(r["file"], int(r["records"])) for r in listed] == [(f.file, f.records) for f in summary.files]


def test_population_id_numbers_have_valid_check_digits():
    import random

    factory = PersonFactory(3)
    persons, members = build_population(factory, 4, 500, 0.3, random.Random(3), date(2026, 10, 1))
    assert all(resident_id.is_valid(p.id_number) for p in persons)
    assert len({p.id_number for p in persons}) == len(persons)
    assert all(len(m) == 500 for m in members)
    assert resident_id.check_character("11010519491231002") == "X"  # GB 11643 example


def test_recorded_id_numbers_are_valid_after_normalising(generated, sources):
    out, _ = generated
    rows = read_records(out / "h01_riverside/2026-10-01/patients.csv", sources["h01_riverside"])
    numbers = [r["IDCardNo"].replace(" ", "") for r in rows.values() if r["IDCardNo"]]
    assert numbers and all(resident_id.is_valid(n) for n in numbers)


def test_shared_persons_appear_in_several_sources(generated):
    out, summary = generated
    persons = _table(summary.truth_dir / "persons.csv")
    sources_of = defaultdict(set)
    for p in persons:
        sources_of[p["person_key"]].add(p["source_id"])
    shared = [k for k, s in sources_of.items() if len(s) >= 2]
    assert len(shared) >= 0.3 * 120 * 4 / 2 * 0.9
    # the shared persons really are in the patients files of both sources, under each source's own id
    in_files = defaultdict(set)
    for f in summary.files:
        if f.entity == "patients":
            for line in (out / f.file).read_bytes().decode("gb18030" if "dongcheng" in f.source_id else "utf-8").splitlines():
                in_files[f.source_id].add(line)
    found = 0
    for p in persons:
        if p["person_key"] in shared[:20] and p["source_id"] != "h04_nanhu_adt":
            assert any(p["patient_source_id"] in line for line in in_files[p["source_id"]])
            found += 1
    assert found


def test_defects_point_at_rows_that_show_them(generated, sources):
    out, summary = generated
    defects = _table(summary.truth_dir / "defects.csv")
    assert {d["defect_type"] for d in defects} == set(ARGS["defect_rates"])
    check_defects(out, summary, defects, sources)


def check_defects(out: Path, summary, defects: list[dict], sources: dict) -> None:
    cache: dict[str, dict] = {}
    files = {f.file: f for f in summary.files}
    earlier_rows: dict[tuple[str, str], list] = defaultdict(list)
    for f in summary.files:  # in order: every record of earlier files and rows of each (source, entity)
        records = cache.setdefault(f.file, read_records(out / f.file, sources[f.source_id]))
        earlier_rows[(f.source_id, f.entity)].append((f.file, records))
    for d in defects:
        source = sources[d["source_id"]]
        record = cache[d["file"]][int(d["row_number"])]
        kind, column = d["defect_type"], d["column"]
        extract_date = date.fromisoformat(files[d["file"]].extract_date)
        if source["format"] == "hl7v2":
            text, message = record
            assert str(message.segment("MSH")[10]) == d["record_id"]
            values = hl7_field(message, d["source_column"]) if d["source_column"] != "PID-3" else []
            if kind == "missing_required":
                if d["source_column"] == "PID-3":
                    assert "NNCHN" not in str(message.segment("PID")[3])
                else:
                    assert "" in values
            elif kind == "invalid_code":
                assert any(v.split("^")[0] not in VALID_ICD10 for v in values)
            elif kind == "out_of_range_lab":
                obx = message.segments("OBX")
                assert any(float(str(s[5])) < 0 or float(str(s[5])) > PLAUSIBLE_MAX[str(s[3][0][0])] for s in obx if str(s[5]))
            elif kind == "discharge_before_admission":
                pv1 = message.segment("PV1")
                assert parse_time(str(pv1[45]), source) < parse_time(str(pv1[44]), source)
            elif kind == "late_arriving":
                assert any(v and parse_time(v, source).date() <= extract_date - timedelta(days=3) for v in values)
            elif kind == "duplicate_record":
                before = [t for file, recs in earlier_rows[(d["source_id"], "messages")] for n, (t, _) in recs.items()
                          if (file, n) < (d["file"], int(d["row_number"])) or file < d["file"]]
                assert text in before
            continue
        get = canonical_getter(source, d["entity"])
        value = get(record, column)
        if kind == "missing_required":
            assert value in (None, ""), d
        elif kind == "invalid_code":
            assert value not in VALID_ICD10 and not re.fullmatch(r"[A-Z]\d{2}(\.\d{1,2})?", value), d
        elif kind == "out_of_range_lab":
            code = get(record, "lab_code")
            assert float(value) < 0 or float(value) > PLAUSIBLE_MAX[code], d
        elif kind == "discharge_before_admission":
            assert parse_time(str(value), source) < parse_time(str(get(record, "admit_time")), source), d
        elif kind == "late_arriving":
            assert parse_time(str(value), source).date() <= extract_date - timedelta(days=3), d
        elif kind == "duplicate_record":
            assert get(record, column) == d["record_id"] or str(get(record, column)).endswith(d["record_id"])
            earlier = [r for file, recs in earlier_rows[(d["source_id"], d["entity"])] for n, r in recs.items()
                       if file < d["file"] or (file == d["file"] and n < int(d["row_number"]))]
            assert record in earlier, d


def test_follow_on_days_extend_a_generation_byte_for_byte(generated, sources, tmp_path):
    """Daily loads: generate(days=N, follow_on_days=k) keeps every file of the N-day (and of the k-1) run and adds a day."""
    out, summary = generated
    runs = {k: generate(tmp_path / f"plus{k}", **ARGS, follow_on_days=k) for k in (1, 2)}
    digests = {0: digest(out), **{k: digest(tmp_path / f"plus{k}") for k in runs}}
    dates = sorted({f.extract_date for f in summary.files})
    next_dates = [(date.fromisoformat(dates[-1]) + timedelta(days=k)).isoformat() for k in (1, 2)]
    for k in (1, 2):
        shorter, longer = digests[k - 1], digests[k]
        extracts = {name: sha for name, sha in shorter.items() if not name.startswith("_truth/")}
        assert {name: longer.get(name) for name in extracts} == extracts  # byte-identical earlier days
        added = {name.split("/")[1] for name in set(longer) - set(shorter)}
        assert added == {next_dates[k - 1]}
        for table in ("persons.csv", "defects.csv", "files.csv"):  # the truth grows by appended rows
            before = (tmp_path / f"plus{k - 1}" if k > 1 else out).joinpath("_truth", table).read_text(encoding="utf-8")
            after = runs[k].truth_dir.joinpath(table).read_text(encoding="utf-8")
            assert after.startswith(before) and len(after) > len(before), table

    longer = runs[2]
    new_files = [f for f in longer.files if f.extract_date in next_dates]
    assert {f.source_id for f in new_files} == {s for s in summary.sources if not s.endswith("_pacs")}  # imaging: own truth
    for f in new_files:
        assert len(read_records(tmp_path / "plus2" / f.file, sources[f.source_id])) == f.records, f.file
    check_defects(tmp_path / "plus2", longer, _table(longer.truth_dir / "defects.csv"), sources)

    before = _table(summary.truth_dir / "persons.csv")
    registered = {(p["source_id"], p["patient_source_id"]) for p in before}
    known_at = defaultdict(set)
    for p in before:
        known_at[p["person_key"]].add(p["source_id"])
    newcomers = [p for p in _table(longer.truth_dir / "persons.csv") if (p["source_id"], p["patient_source_id"]) not in registered]
    assert len(newcomers) >= 0.5 * len(before) / len(dates) * 2  # about the window's daily registrations, per day
    assert any(p["person_key"] not in known_at for p in newcomers)  # new to the region
    assert any(known_at.get(p["person_key"], {p["source_id"]}) - {p["source_id"]} for p in newcomers)  # known elsewhere
    assert not any(p["source_id"] in known_at.get(p["person_key"], ()) for p in newcomers)  # never twice at one source
    landed = {r["PatientID"] for f in new_files if f.source_id == "h01_riverside" and f.entity == "patients"
              for r in read_records(tmp_path / "plus2" / f.file, sources[f.source_id]).values()}
    assert {p["patient_source_id"] for p in newcomers if p["source_id"] == "h01_riverside"} <= landed

    only = generate(tmp_path / "only", **ARGS, follow_on_days=1, only_dates=[next_dates[0]])
    assert digest(tmp_path / "only") == {name: sha for name, sha in digests[1].items()
                                         if name.startswith("_truth/") or f"/{next_dates[0]}/" in name}
    assert only.files == runs[1].files


def test_zero_rates_give_no_defects(tmp_path):
    summary = generate(tmp_path, hospitals=2, patients=40, days=2, defect_rates=dict.fromkeys(ARGS["defect_rates"], 0))
    assert _table(summary.truth_dir / "defects.csv") == []
    with pytest.raises(ValueError):
        generate(tmp_path / "bad", defect_rates={"typo": 0.1})


def test_more_hospitals_cycle_layouts():
    ids = [entry["id"] for entry in registry_entries(9)]
    assert ids[8:] == ["h05_riverside_2", "h05_riverside_2_pacs", "h06_dongcheng_2", "h06_dongcheng_2_pacs", "h07_xishan_chc_2",
                       "h08_nanhu_2_adt", "h08_nanhu_2_his", "h08_nanhu_2_pacs", "h09_riverside_3", "h09_riverside_3_pacs"]
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) and "__" not in i for i in ids)


def test_registry_entries_validate(tmp_path):
    settings = load_settings()
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump({"sources": registry_entries(4)}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    registry = load_registry(settings, path=path)
    canonical = load_entities(settings.entities_file)
    for source in registry.sources:
        for entity in source.entities.values():
            if entity.name in canonical:
                mapped = set(entity.columns.values())
                assert set(canonical[entity.name].required) <= mapped, (source.id, entity.name)
    assert registry.source("h03_xishan_chc").entities["patients"].resource_type == "Patient"
    assert registry.source("h04_nanhu_adt").entities["messages"].path.endswith("/h04_nanhu_adt/{date}/*.hl7")
    committed = yaml.safe_load(settings.sources_file.read_text(encoding="utf-8"))["sources"]
    generated_ids = {e["id"] for e in registry_entries(4)}
    assert [e for e in committed if e["id"] in generated_ids] == registry_entries(4)
    lab_map = settings.metadata_dir / "mappings" / "local_lab_codes.csv"
    assert lab_map.read_text(encoding="utf-8") == lab_code_map_csv(4)


def test_registry_finds_generated_files(generated, tmp_path):
    out, summary = generated
    import dataclasses

    settings = dataclasses.replace(load_settings(), landing_root=out)
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump({"sources": registry_entries(4)}, allow_unicode=True), encoding="utf-8")
    registry = load_registry(settings, path=path)
    found = {(source.id, entity.name, str(p.relative_to(out)), d)
             for source in registry.sources for entity in source.entities.values() for p, d in registry.landed_files(source, entity)}
    imaging = _table(summary.truth_dir / "imaging.csv") + _table(summary.truth_dir / "imaging_bad_files.csv")
    assert imaging
    assert found == {(f.source_id, f.entity, f.file, f.extract_date) for f in summary.files} | {
        (i["source_id"], "imaging_instances", i["file"], i["extract_date"]) for i in imaging}


def test_imaging_studies_link_to_registered_patients_and_visits(generated):
    """Every generated DICOM file reads back with the truth's UIDs; PatientID and AccessionNumber name a patient and a
    visit of the same hospital; the planted bad files are one non-DICOM and one truncated file per PACS."""
    from carelake.sources import UnreadableFile
    from carelake.sources.dicom import read_dicom

    out, summary = generated
    images = _table(summary.truth_dir / "imaging.csv")
    registered = {(p["source_id"].split("_")[0], p["patient_source_id"]) for p in _table(summary.truth_dir / "persons.csv")}
    for image in images:
        parsed = read_dicom(out / image["file"], None, None)
        row = dict(zip(parsed.columns, parsed.rows[0]))
        assert (row["SOPInstanceUID"], row["StudyInstanceUID"], row["PatientID"], row["AccessionNumber"]) == (
            image["sop_instance_uid"], image["study_instance_uid"], image["patient_source_id"], image["encounter_source_id"])
        assert (image["source_id"].split("_")[0], row["PatientID"]) in registered
    bad = _table(summary.truth_dir / "imaging_bad_files.csv")
    assert sorted((b["source_id"], b["defect"]) for b in bad) == sorted(
        (s, d) for s in {i["source_id"] for i in images} for d in ("not_dicom", "truncated"))
    for b in bad:
        with pytest.raises(UnreadableFile, match="not a DICOM Part 10 file" if b["defect"] == "not_dicom" else "truncated"):
            read_dicom(out / b["file"], None, None)


def test_fhir_resources_validate(generated):
    from fhir.resources.R4B import get_fhir_model_class

    out, _ = generated
    for path in sorted((out / "h03_xishan_chc/2026-10-01").glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines()[:20]:
            data = json.loads(line)
            get_fhir_model_class(data["resourceType"]).model_validate(data)


def test_hl7_messages_parse(generated):
    out, _ = generated
    text = (out / "h04_nanhu_adt/2026-10-01/messages.hl7").read_bytes().decode("utf-8")  # keep the CRs
    messages = [m for m in text.split("\n") if m]
    kinds = Counter(str(hl7.parse(m).segment("MSH")[9]).split("^")[1] for m in messages)
    assert {"A28", "A01", "A03", "A04", "R01"} <= set(kinds)
    msh = hl7.parse(messages[0]).segment("MSH")
    assert str(msh[12]) == "2.5" and str(msh[18]) == "UNICODE UTF-8"
    assert all(segment.endswith("\r") for segment in messages)
    pid = hl7.parse(next(m for m in messages if "NNCHN" in m)).segment("PID")
    assert str(pid[3][1][4]) == "NNCHN" and str(pid[3][0][4]) == "MR"
