"""Silver and gold: run the dbt project in ``transforms/`` against the lake.

dbt always runs in its **own process** (the ``dbt`` CLI next to this Python): a
SparkSession already open in the caller would otherwise be reused by dbt-spark's
``session`` method, ignoring Delta's static configuration. The subprocess gets:

* ``DBT_PROFILES_DIR`` = ``transforms/`` (the committed ``profiles.yml`` reads env vars only),
* ``CARELAKE_DBT_SPARK_CONF`` = ``spark_conf(settings)`` as JSON, which the profile hands to
  dbt-spark as ``server_side_parameters`` (same catalog: the Derby network server, same warehouse),
* ``DBT_TARGET_PATH`` / ``DBT_LOG_PATH`` under ``<lake>/_dbt/`` (never the repository),
* ``DBT_SEND_ANONYMOUS_USAGE_STATS=false``.

Order of a full transform (``transform(settings)``)::

    dbt build --select resource_type:seed staging intermediate   # silver, incl. silver.int_patients__unioned
    carelake.mpi.link_patients  (python, writes silver.mpi_person_map)
    carelake.privacy.deidentify_step  (python: silver.deid_person_pseudonyms, silver.deid_notes; the key stays here)
    dbt build --select marts                      # gold: OMOP CDM 5.4 + master data
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from carelake.config import Settings, load_settings
from carelake.operations.runs import StepOutcome, recorded

TRANSFORMS_DIRNAME = "transforms"
SILVER_SELECTION = ["resource_type:seed", "staging", "intermediate"]
GOLD_SELECTION = ["marts"]
# a full transform, in order; each is one task of the Airflow DAG and `carelake transform --step NAME`
STEPS = ("build_silver", "link_patients", "deidentify", "build_gold")


@dataclass
class DbtResult:
    """What one ``dbt`` invocation did."""

    args: list[str]
    returncode: int
    seconds: float
    stdout: str
    target_path: Path
    results: list[dict] = field(default_factory=list)  # run_results.json "results"

    @property
    def success(self) -> bool:
        return self.returncode == 0

    def counts(self) -> dict[str, dict[str, int]]:
        """{resource type: {status: n}} e.g. {"model": {"success": 40}, "test": {"pass": 120, "fail": 1}}."""
        out: dict[str, dict[str, int]] = {}
        for r in self.results:
            kind = r.get("unique_id", "").split(".", 1)[0]
            out.setdefault(kind, {}).setdefault(r.get("status", "?"), 0)
            out[kind][r.get("status", "?")] += 1
        return out

    def failures(self) -> list[dict]:
        return [r for r in self.results if r.get("status") in ("error", "fail", "runtime error")]

    def summary(self) -> str:
        lines = [f"dbt {' '.join(self.args)}: {'OK' if self.success else 'FAILED'} in {self.seconds:.1f}s (rc {self.returncode})"]
        for kind, statuses in sorted(self.counts().items()):
            lines.append(f"  {kind:<8} " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())))
        slow = sorted(self.results, key=lambda r: -(r.get("execution_time") or 0))[:5]
        if slow:
            lines.append("  slowest: " + ", ".join(f"{r['unique_id'].split('.')[-1]} {r.get('execution_time', 0):.1f}s" for r in slow))
        for r in self.failures():
            message = (r.get("message") or "").strip().splitlines()
            lines.append(f"  {r.get('status').upper()} {r['unique_id']}: {message[0][:300] if message else ''}")
        if not self.results and not self.success:
            lines.append("  " + "\n  ".join(self.stdout.strip().splitlines()[-25:]))
        return "\n".join(lines)


def project_dir(settings: Settings) -> Path:
    return settings.project_dir / TRANSFORMS_DIRNAME


def dbt_home(settings: Settings) -> Path:
    """Where dbt's target/ and logs/ go: under the lake, never the repository."""
    return settings.lake_root / "_dbt"


def _dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment of the dbt subprocess: the profile reads everything machine-specific from it."""
    from carelake.spark import spark_conf

    conf = spark_conf(settings)
    home = dbt_home(settings)
    env = dict(os.environ)
    env.update(
        {
            "DBT_PROFILES_DIR": str(project_dir(settings)),
            "DBT_PROJECT_DIR": str(project_dir(settings)),
            "DBT_TARGET_PATH": str(home / "target"),
            "DBT_LOG_PATH": str(home / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_USE_COLORS": "false",
            "CARELAKE_DBT_SCHEMA": "silver",
            "CARELAKE_DBT_SPARK_CONF": json.dumps(conf),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            # make the lake settings visible to anything dbt's Python starts
            "CARELAKE_HOME": str(settings.project_dir),
            "CARELAKE_LAKE_ROOT": str(settings.lake_root),
            "CARELAKE_METASTORE_PORT": str(settings.metastore_port),
        }
    )
    return env


def archived_bronze(settings: Settings) -> dict[str, str]:
    """{bronze table: archive path} of the bronze archives the lifecycle wrote (macro bronze_source reads them)."""
    from carelake.lifecycle.retention import archived_tables

    return {table.split(".", 1)[1]: str(path) for table, path in archived_tables(settings, "bronze").items()}


def _with_lake_vars(settings: Settings, args: list[str]) -> tuple[list[str], str]:
    """Generate the staging models of sources registered without one (carelake.onboarding.staging); return the
    dbt args with their vars — onboarded ids and organisations, the bronze archives — and the model path
    (relative to the project) dbt adds."""
    from carelake.onboarding.staging import prepare

    models, dbt_vars = prepare(settings)
    if archives := archived_bronze(settings):
        dbt_vars = {**dbt_vars, "archived_bronze": archives}
    if dbt_vars and args and args[0] not in ("deps", "clean", "debug", "init"):
        args = [*args, "--vars", json.dumps(dbt_vars, ensure_ascii=False)]
    return args, os.path.relpath(models, project_dir(settings))


def run_dbt(args: list[str], settings: Settings | None = None, timeout: float | None = None) -> DbtResult:
    """Run ``dbt <args>`` in a subprocess against this lake; parse target/run_results.json."""
    from carelake import metastore

    settings = settings or load_settings()
    metastore.ensure_running(settings)
    home = dbt_home(settings)
    (home / "target").mkdir(parents=True, exist_ok=True)
    run_results = home / "target" / "run_results.json"
    run_results.unlink(missing_ok=True)
    env = dbt_env(settings)
    args, env["CARELAKE_ONBOARDED_MODELS"] = _with_lake_vars(settings, list(args))
    cmd = [_dbt_executable(), *args]
    started = time.monotonic()
    proc = subprocess.run(
        cmd,
        cwd=project_dir(settings),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.monotonic() - started
    (home / "logs").mkdir(parents=True, exist_ok=True)
    (home / "logs" / "last_stdout.log").write_text(proc.stdout)
    results: list[dict] = []
    if run_results.is_file():
        results = json.loads(run_results.read_text()).get("results", [])
    return DbtResult(list(args), proc.returncode, seconds, proc.stdout, home / "target", results)


def _build_step(call: dict) -> str:
    """The run record's step name of a dbt build: the silver or gold layer, else the selection."""
    select = call["select"]
    layers = {str(SILVER_SELECTION): "transform-silver", str(GOLD_SELECTION): "transform-gold"}
    return layers.get(str(select if isinstance(select, list) else [select]), f"dbt-build {select}")


@recorded(_build_step, outcome=lambda result: StepOutcome(error=None if result.success else f"dbt exit {result.returncode}"))
def build(settings: Settings | None = None, select: str | list[str] | None = None, full_refresh: bool = False,
          extra: list[str] | None = None, dbt_tests: bool = True) -> DbtResult:
    """``dbt build`` (seeds, models and, unless ``dbt_tests`` is false, their tests) for a selection."""
    args = ["build"]
    if select:
        args += ["--select", *([select] if isinstance(select, str) else select)]
    if full_refresh:
        args.append("--full-refresh")
    if not dbt_tests:
        args += ["--exclude", "resource_type:test"]
    return run_dbt(args + list(extra or []), settings)


@recorded("mpi")
def run_mpi(settings: Settings, spark=None) -> str:
    """Link source patients into persons: silver.int_patients__unioned -> silver.mpi_person_map.

    Runs in this process (Splink on the session Spark); dbt's subprocess sees the result through
    the shared catalog.
    """
    from carelake.mpi import link_patients
    from carelake.spark import get_spark

    spark = spark or get_spark(settings)
    started = time.monotonic()
    report = link_patients(spark, settings=settings)
    return f"MPI: {report} ({time.monotonic() - started:.1f}s)"


@recorded("deidentify")
def run_deidentify(settings: Settings, spark=None) -> str:
    """Keyed pseudonyms and redacted notes for gold (metadata/privacy/deidentification.yml), in this process."""
    from carelake.privacy import deidentify_step
    from carelake.spark import get_spark

    return deidentify_step(settings, spark or get_spark(settings))


def run_step(step: str, settings: Settings, spark=None, full_refresh: bool = False, dbt_tests: bool = True) -> str:
    """One step of :data:`STEPS` (the Airflow transform DAG runs one per task); the step's summary."""
    if step == "link_patients":
        return run_mpi(settings, spark)
    if step == "deidentify":
        return run_deidentify(settings, spark)
    return _build_or_fail(settings, SILVER_SELECTION if step == "build_silver" else GOLD_SELECTION, full_refresh,
                          dbt_tests)


def _build_or_fail(settings: Settings, selection, full_refresh: bool, dbt_tests: bool = True) -> str:
    result = build(settings, selection, full_refresh, dbt_tests=dbt_tests)
    orphans = [] if result.success else orphaned_table_folders(result, settings.lake_root)
    repaired = ""
    if orphans:  # a create killed before the catalog knew its table: set the folder aside, build once more
        moved = set_aside(settings, orphans)
        repaired = ("\nset aside " + ", ".join(str(m) for m in moved) + " (table files the catalog did not know, "
                    "left by a killed create; see docs/crash-safety.md), then built again:\n")
        result = build(settings, selection, full_refresh, dbt_tests=dbt_tests)
    if not result.success:
        raise TransformFailed(repaired + result.summary() + "\nstopped: dbt build failed")
    return repaired + result.summary()


# Delta's refusal to create a managed table in a folder that already holds files: the catalog has no such table
ORPHAN_LOCATION = re.compile(r"DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION\].*?location \('(?:file:)?([^']+)'\)", re.S)


def orphaned_table_folders(result: DbtResult, lake_root: Path) -> list[Path]:
    """Folders under the lake that a failed create named "not empty": files of a table the catalog does not know.

    A process killed between a new table's first Delta commit and the metastore registering it (dbt's first build of
    a model or seed) leaves such a folder, and every later create of that table fails on it.
    """
    root = Path(lake_root).resolve()
    found: list[Path] = []
    for failure in result.failures():
        for match in ORPHAN_LOCATION.finditer(failure.get("message") or ""):
            folder = Path(match.group(1)).resolve()
            if root in folder.parents and folder.parent != root and folder.is_dir() and folder not in found:
                found.append(folder)
    return found


def set_aside(settings: Settings, folders: list[Path]) -> list[Path]:
    """Move each folder to ``<lake>/_orphans/<UTC time>/<its path under the lake>`` (kept, not deleted); the new paths."""
    from datetime import datetime, timezone

    root = Path(settings.lake_root).resolve()
    base = root / "_orphans" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    moved = []
    for folder in folders:
        target = base / folder.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(target)
        moved.append(target)
    return moved


def transform(settings: Settings | None = None, select: str | list[str] | None = None,
              full_refresh: bool = False, steps: list[str] | None = None, spark=None, dbt_tests: bool = True) -> str:
    """Build silver and gold; return a readable summary (models/tests passed/failed, timings).

    With ``select`` only that dbt selection is built (one dbt invocation). Otherwise ``steps``
    (default: all of :data:`STEPS`, in order): seeds + staging + intermediate, the MPI,
    de-identification (pseudonyms, redacted notes), marts. Raises :class:`TransformFailed`
    (whose message is the summary so far) when a dbt model or test fails. ``dbt_tests=False`` builds the models
    without their dbt tests (a rebuild whose tests already passed on the same code and data, e.g. a second engine).
    """
    settings = settings or load_settings()
    if select:
        return _build_or_fail(settings, select, full_refresh, dbt_tests)
    unknown = set(steps or ()) - set(STEPS)
    if unknown:
        raise ValueError(f"unknown transform step(s) {', '.join(sorted(unknown))}; steps are {', '.join(STEPS)}")
    parts: list[str] = []
    for step in [s for s in STEPS if s in (steps or STEPS)]:
        try:
            parts.append(run_step(step, settings, spark, full_refresh, dbt_tests))
        except TransformFailed as exc:
            raise TransformFailed("\n".join([*parts, str(exc)])) from None
    return "\n".join(parts)


class TransformFailed(RuntimeError):
    """A dbt model or test failed; the message is the readable summary."""
