"""The tables the suites check, prepared once per run with the columns their rules need.

Each checked table is one DataFrame with, besides its own columns, ``source_id``, ``data_date`` (the
extract date of the rows), ``record_id``, ``_source_file``, ``_row_number`` and the derived check
columns its suite names (``is_repeat``, ``arrival_lag_days``, ``icd10_valid`` ...). Cross-row and
cross-table logic (repeats, foreign keys, code lists) lives here, so expectations stay declarative and
GX and the grouped aggregation evaluate exactly the same columns.

* ``stg_<entity>``: the union of every source's silver staging view ``silver.stg_<source>__<entity>``
  (typed, before de-duplication: a repeated record is visible);
* ``gold_<table>``: the OMOP table ``gold.<table>``; its extract date is read from ``_source_file``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

STAGED_ENTITIES = {
    "patients": "patient_source_id",
    "encounters": "encounter_source_id",
    "diagnoses": "diagnosis_source_id",
    "prescriptions": "prescription_source_id",
    "lab_results": "lab_result_source_id",
}
IDENTIFIER_COLUMNS = ("patient_source_id", "name", "id_number", "id_number_source_value", "phone", "insurance_no")
_ICD_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_WHO_CODE = re.compile(r"^([A-Z][0-9]{2})(\.[0-9])?$")
# sex-specific ICD-10 chapters: male genital organs / prostate cancer; pregnancy, female genital organs / cancers
MALE_ONLY_CODES = r"^(N4[0-9]|N5[01]|C6[0-3])"
FEMALE_ONLY_CODES = r"^(O|N7[0-9]|N8[0-9]|N9[0-8]|C5[1-8])"


@dataclass(frozen=True)
class CheckedTable:
    name: str
    build: Callable  # (spark, context) -> DataFrame


def icd10_valid(code: str | None) -> bool | None:
    """ICD-10-CM code (with dots, simple_icd_10_cm), or a WHO ICD-10 code: a valid 3-character category,
    optionally with one digit after the dot (M81.9 is WHO ICD-10, not ICD-10-CM)."""
    import simple_icd_10_cm as icd

    if code is None:
        return None
    code = code.strip().upper()
    if not _ICD_SHAPE.match(code):  # the code list also holds chapters ("1") and blocks ("A00-A09")
        return False
    if icd.is_valid_item(code):
        return True
    match = _WHO_CODE.match(code)
    return bool(match) and icd.is_valid_item(match.group(1))


def staged_entity(spark, entity: str):
    from functools import reduce

    views = sorted(r.tableName for r in spark.sql(f"SHOW TABLES IN silver LIKE 'stg_*__{entity}'").collect())
    if not views:
        raise LookupError(f"no silver staging views for {entity} (silver.stg_<source>__{entity}); run `carelake transform`")
    frames = [spark.table(f"silver.{v}") for v in views]
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)


def _with_lineage(frame, key: str, date_col: str = "_extract_date", source_col: str = "source_id"):
    from pyspark.sql import functions as F

    return (frame.withColumn("source_id", F.col(source_col)).withColumn("data_date", F.col(date_col).cast("date"))
            .withColumn("record_id", F.col(key).cast("string")))


def _repeat_flag(frame, columns: list[str]):
    """True for a row whose values (``columns``) equal an earlier row's of the same source."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    content = F.xxhash64(*[F.coalesce(F.col(f"`{c}`").cast("string"), F.lit("\u0000")) for c in columns])
    order = Window.partitionBy("source_id", "_content").orderBy("data_date", "_source_file", "_row_number")
    return (frame.withColumn("_content", content).withColumn("is_repeat", F.row_number().over(order) > 1)
            .drop("_content"))


def _arrival_lag(event_col):
    from pyspark.sql import functions as F

    return F.datediff(F.col("data_date"), F.to_date(event_col))


def _known(frame, spark, table: str, keys: list[str], flag: str):
    from pyspark.sql import functions as F

    known = spark.table(table).select(*keys).distinct().withColumn(flag, F.lit(True))
    return frame.join(known, keys, "left").withColumn(flag, F.coalesce(F.col(flag), F.lit(False)))


def _stg(entity: str, derive: Callable | None = None) -> CheckedTable:
    def build(spark, context):
        raw = staged_entity(spark, entity)
        business = [c for c in raw.columns if not c.startswith("_")]
        frame = _repeat_flag(_with_lineage(raw, STAGED_ENTITIES[entity]), business)
        return derive(frame, spark, context) if derive else frame

    return CheckedTable(f"stg_{entity}", build)


def _patients(frame, spark, context):
    from pyspark.sql import functions as F

    from carelake.mpi.normalise import id_valid_sql

    return (frame.withColumn("id_number_valid", F.when(F.col("id_number").isNotNull(), F.expr(id_valid_sql("id_number"))))
            .withColumn("age_years", F.floor(F.months_between(F.col("data_date"), F.col("birth_date")) / 12).cast("int")))


def _encounters(frame, spark, context):
    from pyspark.sql import functions as F

    frame = frame.withColumn("arrival_lag_days", _arrival_lag(F.coalesce("discharge_time", "admit_time")))
    frame = frame.withColumn("days_after_extract", F.datediff(F.to_date("admit_time"), F.col("data_date")))
    return _known(frame, spark, "silver.int_patients", ["source_id", "patient_source_id"], "patient_known")


def _diagnoses(frame, spark, context):
    from pyspark.sql import functions as F

    codes = [r[0] for r in frame.select("diagnosis_code").where("diagnosis_code is not null").distinct().collect()]
    valid = spark.createDataFrame([(c, icd10_valid(c)) for c in codes], "diagnosis_code string, icd10_valid boolean")
    icd10_coded = F.col("code_system").isNull() | F.upper("code_system").rlike("^ICD-?10")  # not ICD-9, SNOMED ...
    frame = (frame.join(F.broadcast(valid), "diagnosis_code", "left")
             .withColumn("icd10_valid", F.when(icd10_coded, F.col("icd10_valid"))))
    sexes = spark.table("silver.int_patients").select("source_id", "patient_source_id", F.col("sex").alias("_sex"))
    code = F.upper(F.col("diagnosis_code"))
    plausible = (F.when(~F.col("_sex").isin("M", "F") | F.col("_sex").isNull() | code.isNull(), F.lit(None))
                 .when(code.rlike(MALE_ONLY_CODES), F.col("_sex") == "M")
                 .when(code.rlike(FEMALE_ONLY_CODES), F.col("_sex") == "F").otherwise(True))
    frame = (frame.join(sexes, ["source_id", "patient_source_id"], "left").withColumn("sex_plausible", plausible).drop("_sex")
             .withColumn("arrival_lag_days", _arrival_lag(F.col("diagnosis_time"))))
    return _known(frame, spark, "silver.int_encounters", ["source_id", "encounter_source_id"], "encounter_known")


def _lab_results(frame, spark, context):
    from pyspark.sql import functions as F

    ranges = context["thresholds"].plausible_lab_values
    limits = spark.createDataFrame([(code, str(s["unit"]).lower(), float(s["low"]), float(s["high"])) for code, s in ranges.items()],
                                   "_loinc string, _unit string, _low double, _high double")
    local = spark.table("silver.map_local_lab_codes").select(
        "source_id", F.col("local_code").alias("lab_code"), F.col("loinc_code").alias("_mapped"))
    frame = (frame.join(F.broadcast(local), ["source_id", "lab_code"], "left")
             .withColumn("_loinc", F.coalesce("_mapped", "lab_code")).join(F.broadcast(limits), "_loinc", "left"))
    value = F.col("value_as_number")
    known = value.isNotNull() & F.col("_low").isNotNull() & (F.lower("unit") == F.col("_unit"))  # ranges are per unit
    frame = (frame.withColumn("value_plausible", F.when(known, value.between(F.col("_low"), F.col("_high"))))
             .drop("_mapped", "_loinc", "_unit", "_low", "_high")
             .withColumn("arrival_lag_days", _arrival_lag(F.col("specimen_time"))))
    return _known(frame, spark, "silver.int_encounters", ["source_id", "encounter_source_id"], "encounter_known")


def _prescriptions(frame, spark, context):
    from pyspark.sql import functions as F

    return frame.withColumn("arrival_lag_days", _arrival_lag(F.col("start_time")))


def _gold(table: str, key: str, derive: Callable | None = None) -> CheckedTable:
    def build(spark, context):
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        folder_date = F.regexp_extract("_source_file", r"/(\d{4}-\d{2}-\d{2})/", 1)  # '' for files outside date folders
        raw = spark.table(f"gold.{table}").withColumn("_file_date", F.when(folder_date != "", F.to_date(folder_date)))
        frame = _with_lineage(raw, key, date_col="_file_date", source_col="_source_id").drop("_file_date")
        frame = frame.withColumn("is_repeat", F.row_number().over(Window.partitionBy(key).orderBy("_source_file", "_row_number")) > 1)
        return derive(frame, spark, context) if derive else frame

    return CheckedTable(f"gold_{table}", build)


def _gold_person(frame, spark, context):
    return _known(frame, spark, "gold.visit_occurrence", ["person_id"], "has_visit")


def _gold_visits(frame, spark, context):
    from pyspark.sql import functions as F

    frame = _known(frame, spark, "gold.person", ["person_id"], "person_known")
    births = spark.table("gold.person").select("person_id", F.to_date(F.coalesce(
        "birth_datetime", F.make_date("year_of_birth", F.coalesce("month_of_birth", F.lit(1)), F.coalesce("day_of_birth", F.lit(1)))
    )).alias("_birth")).dropDuplicates(["person_id"])
    periods = spark.table("gold.observation_period").select(
        "person_id", "observation_period_start_date", "observation_period_end_date")
    inside = (frame.select("visit_occurrence_id", "person_id", "visit_start_date").join(periods, "person_id")
              .where("visit_start_date between observation_period_start_date and observation_period_end_date")
              .select("visit_occurrence_id").distinct().withColumn("within_observation_period", F.lit(True)))
    return (frame.join(births, "person_id", "left")
            .withColumn("after_birth", F.when(F.col("_birth").isNotNull(), F.col("visit_start_date") >= F.col("_birth")))
            .drop("_birth").join(inside, "visit_occurrence_id", "left")
            .withColumn("within_observation_period", F.coalesce("within_observation_period", F.lit(False))))


def _gold_conditions(frame, spark, context):
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    visits = spark.table("gold.visit_occurrence").select("visit_occurrence_id", F.col("visit_start_date").alias("_vs"),
                                                         F.col("visit_end_date").alias("_ve"))
    same_event = Window.partitionBy("person_id", "condition_concept_id", "condition_start_date")
    return (frame.withColumn("concept_mapped", F.col("condition_concept_id") != 0)
            .join(visits, "visit_occurrence_id", "left")
            .withColumn("within_visit_dates", F.when(F.col("_vs").isNotNull(), F.col("condition_start_date").between(
                F.col("_vs"), F.coalesce("_ve", "_vs"))))
            .drop("_vs", "_ve")
            .withColumn("duplicated_across_sources", F.when(F.col("condition_concept_id") != 0,
                                                            F.size(F.collect_set("_source_id").over(same_event)) > 1)))


def _gold_measurements(frame, spark, context):
    from pyspark.sql import functions as F

    return _known(frame.withColumn("concept_mapped", F.col("measurement_concept_id") != 0), spark, "gold.person",
                  ["person_id"], "person_known")


CHECKED_TABLES: dict[str, CheckedTable] = {t.name: t for t in (
    _stg("patients", _patients),
    _stg("encounters", _encounters),
    _stg("diagnoses", _diagnoses),
    _stg("lab_results", _lab_results),
    _stg("prescriptions", _prescriptions),
    _gold("person", "person_id", _gold_person),
    _gold("visit_occurrence", "visit_occurrence_id", _gold_visits),
    _gold("condition_occurrence", "condition_occurrence_id", _gold_conditions),
    _gold("measurement", "measurement_id", _gold_measurements),
)}


def read_tables(name: str) -> str:
    """What a checked table reads, as the module docstring names it (for the access audit)."""
    if name.startswith("stg_"):
        return f"silver.stg_*__{name.removeprefix('stg_')}"
    if name.startswith("gold_"):
        return f"gold.{name.removeprefix('gold_')}"
    raise ValueError(f"not a checked table name: {name}")


def build_checked_table(spark, name: str, context: dict):
    if name not in CHECKED_TABLES:
        raise LookupError(f"no checked table {name!r} (known: {', '.join(CHECKED_TABLES)})")
    return CHECKED_TABLES[name].build(spark, context)
