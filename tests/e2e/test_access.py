"""Classification, role-based masked views, the audited read API and the audit hash chain, on the demo lake."""

from __future__ import annotations

import csv

import pytest

ANALYST, OFFICER = "analyst", "governance_officer"


@pytest.fixture(scope="module")
def classified(spark, settings, gold):
    from carelake.access.classification import classify_catalogue

    return classify_catalogue(spark, settings)


@pytest.fixture(scope="module")
def views(spark, settings, classified):
    from carelake.access.roles import build_views

    return build_views(spark, settings, classified=classified)


def test_every_silver_and_gold_column_is_classified_and_an_unknown_column_fails_the_check(spark, settings, classified):
    from typer.testing import CliRunner

    from carelake.cli import app

    tables = {r.table for r in classified}
    assert any(t.startswith("silver.") for t in tables) and any(t.startswith("gold.") for t in tables)
    assert [f"{r.table}.{r.column}" for r in classified if not r.classified] == []
    spark.sql("CREATE TABLE silver.zz_classification_probe (person_id bigint, mystery_payload string) USING delta")
    try:
        result = CliRunner().invoke(app, ["classify", "--check"])
        assert result.exit_code == 1
        assert "silver.zz_classification_probe.mystery_payload" in result.output.replace("\n", "")
        assert "zz_classification_probe.person_id" not in result.output.replace("\n", "")
    finally:
        spark.sql("DROP TABLE IF EXISTS silver.zz_classification_probe")


def test_analyst_cannot_read_level_4_columns_and_the_governance_officer_sees_more(spark, settings, classified, views):
    from carelake.access.roles import load_roles

    roles = load_roles(settings)
    assert spark.table("governance.column_classification").count() == len(classified)
    high = [r for r in classified if r.table.startswith("gold.") and r.level >= 4]
    assert any(r.table == "gold.person" for r in high), "gold.person has a level-4 column (its source value)"
    for r in high:
        view = f"gold_analyst.{r.table.split('.', 1)[1]}"
        if roles[ANALYST].action(r.level) == "remove":
            assert not spark.catalog.tableExists(view) or r.column not in spark.table(view).columns, (view, r.column)
        else:  # masked / hashed: no stored value comes through in clear
            assert spark.sql(f"SELECT count(*) n FROM {r.table} b JOIN {view} v ON cast(b.`{r.column}` as string) = "
                             f"cast(v.`{r.column}` as string)").first()["n"] == 0, (view, r.column)
    # the officer sees gold.person's level-4 column in clear, value for value
    column = next(r.column for r in high if r.table == "gold.person")
    officer = spark.table(f"gold_{OFFICER}.person")
    assert column in officer.columns and len(officer.columns) > len(spark.table("gold_analyst.person").columns)
    assert officer.select(column).exceptAll(spark.table("gold.person").select(column)).count() == 0
    assert officer.where(f"`{column}` is not null").count() == spark.table("gold.person").where(f"`{column}` is not null").count()
    # generalised for the analyst: years of birth as decades
    years = {r[0] for r in spark.table("gold_analyst.person").select("year_of_birth").distinct().collect()}
    assert years and all(y is None or y % 10 == 0 for y in years)
    # roles without silver get no silver views; roles with silver do
    assert spark.sql("SHOW DATABASES LIKE 'silver_analyst'").count() == 0
    assert spark.catalog.tableExists(f"silver_{OFFICER}.int_patients")


def test_no_generated_identifier_appears_in_any_analyst_view(spark, settings, demo_extracts, views):
    from carelake.lake import list_tables

    with open(demo_extracts.truth_dir / "persons.csv", newline="", encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))
    identifiers = {row["patient_source_id"] for row in truth} | {row["person_key"] for row in truth}
    # the generator's direct identifiers as they reached bronze: ID numbers, phones, names, insurance numbers
    for table in list_tables(spark, ["bronze"]):
        if table.endswith("__patients") and table.split(".")[1].split("__")[0] in {r["source_id"] for r in truth}:
            frame = spark.table(table)
            cols = [c for c in ("id_number", "phone", "name", "insurance_no", "address") if c in frame.columns]
            identifiers |= {v for row in frame.select(*cols).collect() for v in row if v and len(v) >= 4}
    assert len(identifiers) > 2 * len(truth)
    spark.createDataFrame([(v,) for v in sorted(identifiers)], "value string").createOrReplaceTempView("truth_ids")
    selects = []
    for row in spark.sql("SHOW VIEWS IN gold_analyst").collect():
        if row.isTemporary:
            continue
        frame = spark.table(f"gold_analyst.{row.viewName}")
        cols = ", ".join(f"cast(`{c}` as string)" for c in frame.columns)
        selects.append(f"SELECT '{row.viewName}' AS view, explode(array({cols})) AS value FROM gold_analyst.{row.viewName}")
    assert len(selects) == len(views.views) - sum(1 for v in views.views if not v.startswith("gold_analyst."))
    leaks = spark.sql(f"SELECT DISTINCT view FROM ({' UNION ALL '.join(selects)}) "
                      "WHERE value IN (SELECT value FROM truth_ids)").collect()
    assert leaks == []


def test_queries_and_reads_go_through_the_role_views_and_are_audited(spark, settings, views):
    from carelake.access import AccessDenied, query, read_table

    before = spark.table("audit.access_log").count() if spark.catalog.tableExists("audit.access_log") else 0
    columns, rows = query(spark, settings, "select p.year_of_birth, count(*) as n from gold.person p group by 1",
                          role=ANALYST, user="alice", purpose="cohort sizing")
    assert columns == ["year_of_birth", "n"]
    assert sum(r["n"] for r in rows) == spark.table("gold.person").count()
    frame = read_table("gold.person", role=ANALYST, user="alice", purpose="dashboard", spark=spark, settings=settings)
    assert frame.columns == spark.table("gold_analyst.person").columns
    with pytest.raises(AccessDenied):
        query(spark, settings, "select * from silver.int_patients", role=ANALYST, user="alice", purpose="x")
    with pytest.raises(AccessDenied):
        query(spark, settings, "select * from gold_governance_officer.person", role=ANALYST, user="alice", purpose="x")
    with pytest.raises(AccessDenied):
        query(spark, settings, "delete from gold.person", role=OFFICER, user="bob", purpose="x")
    log = spark.sql("SELECT * FROM audit.access_log ORDER BY seq").collect()
    assert len(log) == before + 2
    last_two = log[-2:]
    assert [r["action"] for r in last_two] == ["query", "read_table"]
    assert all(r["user_name"] == "alice" and r["role"] == ANALYST and r["tables"] == ["gold.person"] for r in last_two)
    assert last_two[0]["rows_returned"] == len(rows) and last_two[1]["rows_returned"] == frame.count()
    assert last_two[0]["purpose"] == "cohort sizing" and "gold.person" in last_two[0]["query_text"]


def test_audit_chain_verifies_and_detects_an_update_and_a_delete(spark, settings, views):
    from carelake.access.audit import AUDIT_TABLE, record_access, verify_chain

    for i in range(3):
        record_access(spark, settings, user="dag", role="data_engineer", tables=["gold.person"], columns=["person_id"],
                      rows=i, purpose="carelake_quality DAG read", action="dag_read")
    clean = verify_chain(spark)
    assert clean.ok, clean.summary()
    # Delta itself refuses to change the log (delta.appendOnly)
    with pytest.raises(Exception, match="(?i)append"):
        spark.sql(f"UPDATE {AUDIT_TABLE} SET rows_returned = 0 WHERE seq = 2")
    # tamper with copies (as someone with file access might): every change is found
    n = spark.table(AUDIT_TABLE).count()
    target = 2
    for tamper, expected_seq, word in ((f"UPDATE {{t}} SET purpose = 'nothing to see' WHERE seq = {target}", target, "edited"),
                                       (f"DELETE FROM {{t}} WHERE seq = {target}", target, "deleted")):
        copy = "audit.zz_access_log_tampered"
        spark.sql(f"DROP TABLE IF EXISTS {copy}")
        spark.sql(f"CREATE TABLE {copy} USING delta AS SELECT * FROM {AUDIT_TABLE}")
        try:
            assert verify_chain(spark, table=copy).ok
            spark.sql(tamper.format(t=copy))
            broken = verify_chain(spark, table=copy)
            assert not broken.ok and broken.first_broken_seq == expected_seq and word in broken.reason, broken.summary()
            assert broken.history_problems
        finally:
            spark.sql(f"DROP TABLE IF EXISTS {copy}")
    assert spark.table(AUDIT_TABLE).count() == n and verify_chain(spark).ok
