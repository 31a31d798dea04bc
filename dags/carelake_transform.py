"""
### carelake_transform — bronze → silver → gold (OMOP CDM v5.4 + master data)

Scheduled on the bronze asset (runs after `carelake_ingest` wrote bronze). One task per layer:

1. `build_silver` — `dbt build` of seeds, staging and intermediate models with their dbt tests
   (typed, standardised, de-duplicated silver; `silver.int_patients__unioned`).
2. `link_patients` — the master patient index (deterministic ID rule + Splink on Spark) into
   `silver.mpi_person_map`, keeping existing person ids stable.
3. `deidentify` — keyed pseudonyms (HMAC-SHA256; the key from the Airflow connection
   `carelake_pseudonym_key` or `CARELAKE_PSEUDONYM_KEY`) and redacted notes for gold
   (`metadata/privacy/deidentification.yml`); the key never enters dbt.
4. `build_gold` — `dbt build` of the marts: OMOP CDM tables and master-data golden records.

A failing dbt model or test fails its task. Why one task per layer and not one per dbt model
(e.g. astronomer-cosmos): every dbt invocation starts its own Spark session (20–40 s on two
cores), so ~70 model tasks would cost more in start-up than the whole build.

Same steps without Airflow: `carelake transform` (all four) or `carelake transform --step build_silver` etc.
"""

from __future__ import annotations

from airflow.sdk import Asset, dag, task

from carelake.orchestration import BRONZE_ASSET_URI, SILVER_GOLD_ASSET_URI, dag_defaults


@dag(
    dag_id="carelake_transform",
    schedule=[Asset(BRONZE_ASSET_URI)],
    tags=["carelake", "silver", "gold", "dbt"],
    doc_md=__doc__,
    **dag_defaults(),
)
def carelake_transform():
    def step_task(step: str, **task_args):
        @task(task_id=step, **task_args)
        def run_step() -> str:
            from carelake.pipeline import transform_step

            return transform_step(steps=[step])

        return run_step()

    (step_task("build_silver") >> step_task("link_patients") >> step_task("deidentify")
     >> step_task("build_gold", outlets=[Asset(SILVER_GOLD_ASSET_URI)]))


carelake_transform()
