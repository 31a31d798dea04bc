"""
### carelake_transform — bronze → silver → gold (OMOP CDM v5.4 + master data)

Scheduled on the bronze asset (runs after `carelake_ingest` wrote bronze). One task per layer:

1. `build_silver` — `dbt build` of seeds, staging and intermediate models with their dbt tests
   (typed, standardised, de-duplicated silver; `silver.int_patients__unioned`).
2. `link_patients` — the master patient index (deterministic ID rule + Splink on Spark) into
   `silver.mpi_person_map`, keeping existing person ids stable.
3. `build_gold` — `dbt build` of the marts: OMOP CDM tables and master-data golden records.

A failing dbt model or test fails its task. Why one task per layer and not one per dbt model
(e.g. astronomer-cosmos): every dbt invocation starts its own Spark session (20–40 s on two
cores), so ~70 model tasks would cost more in start-up than the whole build.

Same steps without Airflow: `carelake transform`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from carelake.orchestration import BRONZE_ASSET_URI, DEFAULT_ARGS, SILVER_GOLD_ASSET_URI


@dag(
    dag_id="carelake_transform",
    schedule=[Asset(BRONZE_ASSET_URI)],
    start_date=pendulum.datetime(2026, 10, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["carelake", "silver", "gold", "dbt"],
    doc_md=__doc__,
)
def carelake_transform():
    @task
    def build_silver() -> str:
        from carelake.pipeline import transform_step
        from carelake.transform import SILVER_SELECTION

        return transform_step(select=SILVER_SELECTION)

    @task
    def link_patients() -> str:
        from carelake.config import load_settings
        from carelake.transform import run_mpi

        return run_mpi(load_settings())

    @task(outlets=[Asset(SILVER_GOLD_ASSET_URI)])
    def build_gold() -> str:
        from carelake.pipeline import transform_step
        from carelake.transform import GOLD_SELECTION

        return transform_step(select=GOLD_SELECTION)

    build_silver() >> link_patients() >> build_gold()


carelake_transform()
