"""Find personal data in silver, on Spark: declared free text in full, every other string column by sample.

* **Free text** (``free_text`` of metadata/privacy/deidentification.yml, e.g. ``silver.int_notes.note_text``):
  every value is analysed.
* **Every other string column** of every silver table: up to ``scan.sample_rows`` rows per table, the
  distinct values of each column analysed, to find personal data where nobody declared it. A column is
  reported when at least ``scan.min_share`` (per entity type: ``min_share_by_entity``) of its sampled values
  hold a finding; ``declared`` says
  whether the policy knows the column (free text or ``identifier_columns``).

Analysis runs per partition (``mapInPandas``): the Presidio engines are built once per Python worker
(:func:`carelake.privacy.analyzer.engines`) and cheap pre-filters skip spaCy for texts without a
capitalised Latin word and skip texts that cannot hold anything at all.

Results: ``privacy.pii_findings`` (Delta, overwritten per scanned table): table, column, entity_type,
findings, values_scanned, values_with_findings, sample_masked, declared, mode, scanned_at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

FINDINGS_TABLE = "privacy.pii_findings"
_HITS_SCHEMA = "table string, column string, entity_type string, sample_masked string, text_id bigint, start int, end int"
FINDINGS_SCHEMA = ("table string, column string, entity_type string, findings bigint, values_scanned bigint, "
                   "values_with_findings bigint, sample_masked string, declared boolean, mode string, scanned_at timestamp")


def mask(value: str) -> str:
    """Keep the first and last character: ``13812345678`` -> ``1*********8``."""
    return value[:1] + "*" * max(len(value) - 2, 0) + value[-1:] if len(value) > 2 else "*" * len(value)


def analyze_partitions(policy: dict):
    """A ``mapInPandas`` function: rows (table, column, text, text_id) -> one row per finding (with its span)."""
    def run(batches):
        import pandas as pd

        from carelake.privacy.analyzer import analyze_many

        for frame in batches:
            texts = frame["text"].tolist()
            out = [(table, column, f.entity_type, mask(text[f.start:f.end]), text_id, f.start, f.end)
                   for table, column, text, text_id, found in zip(frame["table"], frame["column"], texts, frame["text_id"],
                                                                  analyze_many(texts, policy))
                   for f in found]
            yield pd.DataFrame(out, columns=["table", "column", "entity_type", "sample_masked", "text_id", "start", "end"])
    return run


def analyze_texts(texts_df, policy: dict):
    """``texts_df`` (table, column, text, text_id) -> findings (table, column, entity_type, sample_masked, text_id, start, end)."""
    return texts_df.mapInPandas(analyze_partitions(policy), _HITS_SCHEMA)


@dataclass
class ScanResult:
    rows: list[dict]

    def undeclared(self) -> list[dict]:
        return [r for r in self.rows if not r["declared"]]

    def summary(self) -> str:
        lines = [f"{len(self.rows)} (table, column, entity type) findings; undeclared personal data:"]
        for r in sorted(self.undeclared(), key=lambda r: (r["table"], r["column"], r["entity_type"])):
            lines.append(f"  {r['table']}.{r['column']}: {r['entity_type']} in {r['values_with_findings']} of "
                         f"{r['values_scanned']} sampled values (e.g. {r['sample_masked']})")
        if not self.undeclared():
            lines.append("  none")
        return "\n".join(lines)


def _silver_tables(spark, policy: dict) -> list[str]:
    skip = set(policy["scan"].get("skip_tables", []))
    return [f"silver.{t.name}" for t in spark.catalog.listTables("silver")
            if t.tableType != "VIEW" and t.name not in skip and not t.isTemporary]


def _texts_of_table(spark, table: str, policy: dict):
    """(table, column, text, text_id) of a table: declared free text in full, other strings sampled (distinct)."""
    from pyspark.sql import functions as F

    df = spark.table(table)
    declared = policy.get("free_text", {}).get(table, [])
    skip = set(policy["scan"].get("skip_columns", [])) | set(declared)
    sampled = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string" and f.name not in skip]
    parts = []
    for column in declared:
        parts.append(df.select(F.lit(table).alias("table"), F.lit(column).alias("column"), F.col(column).alias("text"))
                     .where("text is not null"))
    if sampled:
        rows = df.select(*sampled).limit(int(policy["scan"]["sample_rows"]))
        stacked = rows.select(F.explode(F.array(*[F.struct(F.lit(c).alias("column"), F.col(f"`{c}`").alias("text"))
                                                  for c in sampled])).alias("v")).select("v.*")
        parts.append(stacked.where("text is not null and trim(text) <> ''").distinct()
                     .select(F.lit(table).alias("table"), "column", "text"))
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out.withColumn("text_id", F.monotonically_increasing_id())


def scan_lake(settings=None, spark=None, tables: list[str] | None = None, policy: dict | None = None,
              write: bool = True) -> ScanResult:
    """Scan ``tables`` (default: every silver table) and (``write``) replace their rows of privacy.pii_findings."""
    from pyspark.sql import functions as F

    from carelake.config import load_settings
    from carelake.privacy.analyzer import load_policy
    from carelake.spark import get_spark

    settings = settings or load_settings()
    spark = spark or get_spark(settings)
    policy = policy or load_policy(settings.metadata_dir)
    tables = [t if "." in t else f"silver.{t}" for t in (tables or _silver_tables(spark, policy))]
    texts = None
    for table in tables:
        part = _texts_of_table(spark, table, policy)
        if part is not None:
            texts = part if texts is None else texts.unionByName(part)
    if texts is None:
        return ScanResult([])
    texts = texts.repartition(max(2, spark.sparkContext.defaultParallelism)).persist()
    scanned = {(r["table"], r["column"]): r["n"] for r in texts.groupBy("table", "column").agg(F.count("*").alias("n")).collect()}
    hits = analyze_texts(texts, policy)
    grouped = hits.groupBy("table", "column", "entity_type").agg(
        F.count("*").alias("findings"), F.countDistinct("text_id").alias("values_with_findings"),
        F.first("sample_masked").alias("sample_masked")).collect()
    texts.unpersist()
    free_text = {(t, c) for t, columns in policy.get("free_text", {}).items() for c in columns}
    identifiers = set(policy.get("identifier_columns", []))
    min_share = float(policy["scan"]["min_share"])
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = []
    for g in grouped:
        key = (g["table"], g["column"])
        mode = "full" if key in free_text else "sample"
        share = float((policy["scan"].get("min_share_by_entity") or {}).get(g["entity_type"], min_share))
        if mode == "sample" and g["values_with_findings"] < share * scanned.get(key, 0):
            continue
        rows.append({"table": g["table"], "column": g["column"], "entity_type": g["entity_type"], "findings": g["findings"],
                     "values_scanned": scanned.get(key, 0), "values_with_findings": g["values_with_findings"],
                     "sample_masked": g["sample_masked"], "declared": key in free_text or g["column"] in identifiers,
                     "mode": mode, "scanned_at": now})
    if write:
        _write_findings(spark, settings, rows, tables)
    return ScanResult(rows)


def _write_findings(spark, settings, rows: list[dict], tables: list[str]) -> None:
    spark.sql(f"CREATE DATABASE IF NOT EXISTS privacy LOCATION '{settings.lake_root / 'privacy'}'")
    new = spark.createDataFrame(rows, FINDINGS_SCHEMA)
    if spark.catalog.tableExists(FINDINGS_TABLE):
        listed = ", ".join("'" + t.replace("'", "''") + "'" for t in tables)
        spark.sql(f"DELETE FROM {FINDINGS_TABLE} WHERE `table` IN ({listed})")
        new.write.format("delta").mode("append").saveAsTable(FINDINGS_TABLE)
    else:
        new.write.format("delta").saveAsTable(FINDINGS_TABLE)
