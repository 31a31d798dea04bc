"""A `jdbc` source pulled from a REAL PostgreSQL server (initdb/pg_ctl in a temporary folder, 127.0.0.1).

Pull, then change, add and delete rows at the source, pull again: exact counts in bronze, no duplicate
keys, late updates merged, deletions applied, the watermark advanced and every pull in the ledger.
A stopped server and a wrong password fail with one line naming the source (and the CLI exits non-zero).
No dbt: the test source has its own id and bronze tables, the demo lake is untouched.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SOURCE_ID = "pg_his"
PASSWORD = "s3cret-test"


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A throw-away PostgreSQL cluster: initdb, pg_ctl start/stop; run as user postgres when we are root."""

    def __init__(self):
        self.initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        self.base = Path(tempfile.mkdtemp(prefix="carelake-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        proc = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{args[0]} failed: {proc.stdout[-1500:]}{proc.stderr[-1500:]}"

    def start(self) -> None:
        (self.base / "pwfile").write_text(PASSWORD + "\n")
        if self.as_user:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.base / "pwfile", "postgres")
        self._run(self.initdb, "-D", str(self.data), "-U", "carelake", "--auth=scram-sha-256",
                  f"--pwfile={self.base / 'pwfile'}", "-E", "UTF8", "--locale=C")
        self.resume()

    def resume(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "-t", "60", "start",
                  "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base}")

    def stop(self) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/postgres"


def execute(spark, url: str, statements: list[str]) -> None:
    """Run SQL at the source through the PostgreSQL JDBC driver already on Spark's classpath."""
    jvm = spark._jvm
    props = jvm.java.util.Properties()
    props.setProperty("user", "carelake")
    props.setProperty("password", PASSWORD)
    conn = jvm.org.postgresql.Driver().connect(url, props)
    try:
        statement = conn.createStatement()
        for sql in statements:
            statement.execute(sql)
    finally:
        conn.close()


SCHEMA = [
    "CREATE TABLE patients (patient_no text PRIMARY KEY, name text, sex text, birth_date date, updated_at timestamp, is_deleted boolean DEFAULT false)",
    "CREATE TABLE visits (visit_no text PRIMARY KEY, patient_no text, visit_type text, admit_time timestamp, updated_at timestamp, is_deleted boolean DEFAULT false)",
    "CREATE TABLE diagnoses (dx_id text PRIMARY KEY, visit_no text, patient_no text, icd10 text, updated_at timestamp, is_deleted boolean DEFAULT false)",
]


def _initial_rows(n: int = 20) -> list[str]:
    rows = []
    for p in range(1, n + 1):
        rows.append(f"INSERT INTO patients VALUES ('P{p:03d}', 'Patient {p}', '{'M' if p % 2 else 'F'}', "
                    f"DATE '1970-01-01' + {p * 300}, TIMESTAMP '2026-09-01 08:00:00' + interval '{p} minutes', false)")
        for v in range(2):
            rows.append(f"INSERT INTO visits VALUES ('V{p:03d}{v}', 'P{p:03d}', 'O', TIMESTAMP '2026-09-02 09:00:00', "
                        f"TIMESTAMP '2026-09-02 10:00:00' + interval '{p} minutes', false)")
            rows.append(f"INSERT INTO diagnoses VALUES ('D{p:03d}{v}', 'V{p:03d}{v}', 'P{p:03d}', 'I10', "
                        f"TIMESTAMP '2026-09-02 10:00:00' + interval '{p} minutes', false)")
    return rows


ENTRY = {
    "id": SOURCE_ID, "name": "Test HIS reporting database", "kind": "hospital", "format": "jdbc", "organization": "H09",
    "entities": {
        "patients": {"table": "patients", "key": ["patient_no"], "watermark": "updated_at", "deleted_flag": "is_deleted",
                     "columns": {"patient_no": "patient_source_id", "name": "name", "sex": "sex",
                                 "birth_date": "birth_date", "updated_at": "updated_at"}},
        "encounters": {"query": "SELECT visit_no, patient_no, visit_type, admit_time, updated_at, is_deleted FROM visits",
                       "key": ["visit_no"], "watermark": "updated_at", "deleted_flag": "is_deleted",
                       "columns": {"visit_no": "encounter_source_id", "patient_no": "patient_source_id",
                                   "visit_type": "visit_type", "admit_time": "admit_time", "updated_at": "updated_at"}},
        "diagnoses": {"table": "diagnoses", "key": ["dx_id"], "watermark": "updated_at", "deleted_flag": "is_deleted",
                      "columns": {"dx_id": "diagnosis_source_id", "visit_no": "encounter_source_id",
                                  "patient_no": "patient_source_id", "icd10": "diagnosis_code"}},
    },
}


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer()
    if not server.initdb or not server.pg_ctl:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) not found: `make setup` installs Debian's postgresql")
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.base, ignore_errors=True)


@pytest.fixture(scope="module")
def jdbc_registry(registry, postgres, tmp_path_factory):
    import yaml

    from carelake.onboarding.check import with_entries

    entry = {**ENTRY, "jdbc": {"url": postgres.url}}
    path = tmp_path_factory.mktemp("jdbc") / "sources.yml"
    path.write_text(yaml.safe_dump({"sources": [entry]}, allow_unicode=True), encoding="utf-8")
    return with_entries(registry, [entry]), path


@pytest.fixture()
def pg_credentials(monkeypatch):
    monkeypatch.setenv(f"CARELAKE_SOURCE_{SOURCE_ID.upper()}_USER", "carelake")
    monkeypatch.setenv(f"CARELAKE_SOURCE_{SOURCE_ID.upper()}_PASSWORD", PASSWORD)


def _bronze(spark, entity: str):
    return spark.table(f"bronze.{SOURCE_ID}__{entity}")


def _source_count(spark, url: str, table: str) -> int:
    from pyspark.sql import functions as F

    frame = spark.read.jdbc(url, table, properties={"user": "carelake", "password": PASSWORD, "driver": "org.postgresql.Driver"})
    return frame.where(~F.col("is_deleted")).count()


def test_pull_merge_late_updates_and_deletes(spark, settings, postgres, jdbc_registry, pg_credentials):
    from pyspark.sql import functions as F

    from carelake.ingest.jdbc import WATERMARK_TABLE, pull_sources, read_changes

    registry, _ = jdbc_registry
    execute(spark, postgres.url, SCHEMA + _initial_rows())

    first = {r.entity: r for r in pull_sources(settings, registry, [SOURCE_ID], spark=spark)}
    for entity, table in (("patients", "patients"), ("encounters", "visits"), ("diagnoses", "diagnoses")):
        assert first[entity].rows == _source_count(spark, postgres.url, table)
        assert _bronze(spark, entity).count() == first[entity].rows
    mark1 = {r.entity: r.watermark for r in spark.table(WATERMARK_TABLE).where(f"source_id = '{SOURCE_ID}'").collect()}
    assert mark1["patients"] == first["patients"].watermark_after

    # at the source: 3 late updates, 2 new patients, 1 deletion (marker), 1 visit deleted
    execute(spark, postgres.url, [
        "UPDATE patients SET name = name || ' (corrected)', updated_at = TIMESTAMP '2026-09-05 12:00:00' WHERE patient_no IN ('P001', 'P002', 'P003')",
        "INSERT INTO patients VALUES ('P901', 'New One', 'F', DATE '1980-05-05', TIMESTAMP '2026-09-05 12:01:00', false)",
        "INSERT INTO patients VALUES ('P902', 'New Two', 'M', DATE '1981-06-06', TIMESTAMP '2026-09-05 12:02:00', false)",
        "UPDATE patients SET is_deleted = true, updated_at = TIMESTAMP '2026-09-05 12:03:00' WHERE patient_no = 'P010'",
        "UPDATE visits SET is_deleted = true, updated_at = TIMESTAMP '2026-09-05 12:04:00' WHERE visit_no = 'V0050'",
    ])
    # the watermark predicate reaches PostgreSQL (pushed down), not a filter after a full read
    source = registry.source(SOURCE_ID)
    plan = read_changes(spark, source, source.entities["patients"], mark1["patients"], "carelake", PASSWORD)._jdf \
        .queryExecution().executedPlan().toString()
    assert "PushedFilters" in plan and "GreaterThan(updated_at" in plan, plan

    second = {r.entity: r for r in pull_sources(settings, registry, [SOURCE_ID], spark=spark)}
    assert second["patients"].rows == 3 + 2 + 1 and second["patients"].deleted == 1
    assert second["encounters"].rows == 1 and second["encounters"].deleted == 1
    assert second["diagnoses"].rows == 0
    patients = _bronze(spark, "patients")
    assert patients.count() == _source_count(spark, postgres.url, "patients") == 20 + 2 - 1
    assert patients.groupBy("patient_source_id").count().where("count > 1").count() == 0
    assert patients.where("patient_source_id = 'P010'").count() == 0
    assert patients.where(F.col("name").endswith("(corrected)")).count() == 3
    assert _bronze(spark, "encounters").count() == _source_count(spark, postgres.url, "visits")
    mark2 = {r.entity: r.watermark for r in spark.table(WATERMARK_TABLE).where(f"source_id = '{SOURCE_ID}'").collect()}
    assert mark2["patients"] > mark1["patients"] and mark2["patients"].startswith("2026-09-05 12:03")
    assert mark2["diagnoses"] == mark1["diagnoses"]  # nothing new: the mark stays

    # a third pull with nothing changed reads nothing and changes nothing
    third = pull_sources(settings, registry, [SOURCE_ID], spark=spark)
    assert all(r.rows == 0 for r in third) and patients.count() == 21

    # the ledger accounts for every pull: rows read = rows applied to bronze, pseudo path names table and mark
    ledger = spark.table("bronze.ingest_ledger").where(f"source_id = '{SOURCE_ID}'").collect()
    assert len(ledger) == 9 and all(r.rows_read == r.rows_bronze + r.rows_quarantined for r in ledger)
    assert {r.file_path for r in ledger if r.entity == "patients"} >= {
        f"jdbc://{SOURCE_ID}/patients@{first['patients'].watermark_after}",
        f"jdbc://{SOURCE_ID}/patients@{second['patients'].watermark_after}"}
    pulled = sum(r.rows_read for r in ledger if r.entity == "patients")
    assert pulled == first["patients"].rows + second["patients"].rows


def test_bad_password_and_stopped_server_fail_in_one_line_naming_the_source(spark, settings, postgres, jdbc_registry,
                                                                          monkeypatch):
    from carelake.ingest.jdbc import PullFailed, pull_sources

    registry, registry_file = jdbc_registry
    monkeypatch.setenv(f"CARELAKE_SOURCE_{SOURCE_ID.upper()}_USER", "carelake")
    monkeypatch.setenv(f"CARELAKE_SOURCE_{SOURCE_ID.upper()}_PASSWORD", "wrong")
    with pytest.raises(PullFailed) as bad:
        pull_sources(settings, registry, [SOURCE_ID], spark=spark)
    assert "\n" not in str(bad.value) and SOURCE_ID in str(bad.value) and "password" in str(bad.value).lower()

    monkeypatch.delenv(f"CARELAKE_SOURCE_{SOURCE_ID.upper()}_USER")
    with pytest.raises(PullFailed, match=f"source {SOURCE_ID}: no credentials"):
        pull_sources(settings, registry, [SOURCE_ID], spark=spark)

    monkeypatch.setenv(f"CARELAKE_SOURCE_{SOURCE_ID.upper()}_USER", "carelake")
    monkeypatch.setenv(f"CARELAKE_SOURCE_{SOURCE_ID.upper()}_PASSWORD", PASSWORD)
    postgres.stop()
    try:
        with pytest.raises(PullFailed) as down:
            pull_sources(settings, registry, [SOURCE_ID], spark=spark)
        assert "\n" not in str(down.value) and SOURCE_ID in str(down.value)
        proc = subprocess.run([sys.executable, "-m", "carelake", "sources", "pull", SOURCE_ID, "--registry", str(registry_file)],
                              capture_output=True, text=True, env=os.environ.copy(), timeout=300)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        message = [line for line in proc.stderr.splitlines() if "pull failed" in line]
        assert len(message) == 1 and SOURCE_ID in message[0], proc.stderr[-2000:]
    finally:
        postgres.resume()


def test_registry_refuses_credentials_in_yaml(registry):
    from carelake.onboarding.check import with_entries
    from carelake.registry import RegistryError

    entry = {**ENTRY, "jdbc": {"url": "jdbc:postgresql://127.0.0.1:5432/his", "properties": {"password": "x"}}}
    with pytest.raises(RegistryError, match="credentials"):
        with_entries(registry, [entry])
