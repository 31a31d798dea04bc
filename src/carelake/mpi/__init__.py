"""Master patient index: link patient records from every source into persons.

    from carelake.mpi import link_patients, evaluate
    report = link_patients(spark)                        # silver.int_patients__unioned -> silver.mpi_person_map
    report = link_patients(spark, patients_from_bronze(spark))   # fallback input built from bronze
    evaluate(spark, "landing/_truth/persons.csv")        # {precision, recall, f1, ...}

Modules: ``normalise`` (the field rules, as Spark SQL the dbt model can
mirror), ``inputs`` (the input built from bronze), ``model`` (Splink
comparisons, blocking rules, threshold), ``train`` (EM training ->
``metadata/mpi/model.json``), ``link`` (deterministic + Splink + stable ids),
``evaluate`` (pairwise precision/recall against generated ground truth).
"""

from carelake.mpi.evaluate import evaluate
from carelake.mpi.inputs import patients_from_bronze
from carelake.mpi.link import DEFAULT_INPUT_TABLE, DEFAULT_OUTPUT_TABLE, MpiReport, link_patients
from carelake.mpi.model import DEFAULT_THRESHOLD

__all__ = ["DEFAULT_INPUT_TABLE", "DEFAULT_OUTPUT_TABLE", "DEFAULT_THRESHOLD", "MpiReport", "evaluate",
           "link_patients", "patients_from_bronze"]
