"""Train the MPI's Splink model with EM and save it to ``metadata/mpi/model.json``.

    python -m carelake.mpi.train [--sources h01_riverside,...] [--input-table T] [--out PATH]

Reads the MPI input (a table in the input contract, or built from the bronze
patients tables of the current lake), estimates the parameters (see
``carelake.mpi.model``) and writes the model JSON. Linking loads that file and
never trains. Retrain when the comparisons change or the population differs a
lot from the generated one; commit the JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from carelake.mpi import model as m

PRIOR_RECALL = 0.9  # share of true matches the deterministic rule "same ID number" finds (IDs go missing)
# EM on clean generated data drives some m probabilities to ~0 (e.g. sex never disagrees for a true match,
# a 1e-90 weight) and leaves levels it never saw (phone/ID typos: the generator makes none) untrained.
# Real registrations do disagree, so: every non-null level's m is at least M_FLOOR, unobserved levels
# get M_UNOBSERVED, then each comparison's m values are rescaled to sum to 1.
M_FLOOR = 0.001
M_UNOBSERVED = 0.005


def regularise(model: dict) -> dict:
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for level in levels:
            m_prob = level.get("m_probability")
            level["m_probability"] = M_UNOBSERVED if m_prob is None else max(m_prob, M_FLOOR)
            if level.get("u_probability") is None:
                level["u_probability"] = M_FLOOR  # unseen among random pairs too: rare
        total = sum(lv["m_probability"] for lv in levels)
        for level in levels:
            level["m_probability"] = round(level["m_probability"] / total, 8)
    return model


def prepare(df):
    """The input contract plus Splink's unique id column."""
    from pyspark.sql import functions as F

    return df.withColumn(m.UNIQUE_ID, F.concat_ws("|", "source_id", "patient_source_id")).select(
        m.UNIQUE_ID, "source_id", "patient_source_id", "id_number", "name", "sex", "birth_date", "phone", "address",
        "region_code")


def train(spark, input_df, settings=None, out_path: Path | None = None, seed: int = 42) -> dict:
    """Estimate the model on ``input_df`` (MPI input contract); write and return the model dict."""
    from splink import Linker, block_on

    from carelake.config import load_settings
    from carelake.mpi.splink_spark import splink_db_api

    settings = settings or load_settings()
    out_path = Path(out_path) if out_path else m.model_path(settings)
    with splink_db_api(spark, settings) as db_api:
        sdf = db_api.register(prepare(input_df).cache(), table_name="mpi_training_input")
        linker = Linker(sdf, m.settings_creator(), log_level=None)
        linker.training.estimate_probability_two_random_records_match([block_on("id_number")], recall=PRIOR_RECALL)
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("name"))
        model = linker.misc.save_model_to_json(out_path=None)
        linker.table_management.delete_tables_created_by_splink_from_db()
    model.pop("linker_uid", None)
    regularise(model)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-table", help="table in the MPI input contract (default: built from bronze)")
    parser.add_argument("--sources", help="comma-separated source ids for the bronze input")
    parser.add_argument("--out", type=Path, help="model JSON path (default metadata/mpi/model.json)")
    args = parser.parse_args(argv)

    from carelake.config import load_settings
    from carelake.mpi.inputs import DEFAULT_SOURCES, patients_from_bronze
    from carelake.spark import get_spark

    settings = load_settings()
    spark = get_spark(settings, app_name="carelake-mpi-train")
    if args.input_table:
        df = spark.table(args.input_table)
    else:
        df = patients_from_bronze(spark, args.sources.split(",") if args.sources else DEFAULT_SOURCES)
    started = time.perf_counter()
    model = train(spark, df, settings, args.out)
    print(f"trained on {df.count():,} records in {time.perf_counter() - started:.1f}s "
          f"(prior {model['probability_two_random_records_match']:.3g}) -> {args.out or m.model_path(settings)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
