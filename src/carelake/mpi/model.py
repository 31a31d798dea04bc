"""The Splink model: settings (comparisons, blocking rules) and where its trained parameters live.

Comparisons (levels in order; a NULL on either side is the null level, which
carries no evidence):

* ``name``        exact / Levenshtein <= 1 (one character typed wrong, the usual
                  Chinese-name typo: a similar-looking or same-sounding character)
                  / Jaro-Winkler >= 0.7 / else
* ``birth_date``  exact / Levenshtein <= 1 on ``yyyy-MM-dd`` (one digit typed wrong) / else
* ``sex``         exact / else (``U`` counts as NULL)
* ``phone``       exact / Levenshtein <= 2 / else
* ``id_number``   exact / Levenshtein <= 2 (typo, transposition) / else
* ``address``     exact / Jaro-Winkler >= 0.9 / same ``region_code`` / else

Blocking rules that generate the candidate pairs: same birth date; same
ID number; same phone; same name and region code; same name and birth year.
(Not "same name and sex": Chinese full names repeat a lot — on 1M generated
records that rule alone makes ~100M pairs; the five rules above ~40M.)

Training (``carelake.mpi.train``): the prior from the deterministic rule
"same ID number", u by random sampling, m by expectation maximisation in two
sessions (blocked on birth date, then on name), so each comparison is
estimated in a session where it is not the blocking column.
"""

from __future__ import annotations

from pathlib import Path

MODEL_FILE = "model.json"
# pairs scoring at or above this match probability are linked (a match weight of about 6.6)
DEFAULT_THRESHOLD = 0.99
UNIQUE_ID = "record_key"


def model_path(settings=None) -> Path:
    if settings is not None:
        return settings.metadata_dir / "mpi" / MODEL_FILE
    from carelake.config import load_settings

    return load_settings().metadata_dir / "mpi" / MODEL_FILE


def blocking_rules():
    from splink import block_on

    return [
        block_on("birth_date"),
        block_on("id_number"),
        block_on("phone"),
        block_on("name", "region_code"),
        block_on("name", "year(birth_date)"),
    ]


def _comparison(column, levels, description, null_level=None):
    """Splink comparison on ``column``: its null level, exact match, then ``levels``, then else."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name=column,
        comparison_levels=[null_level or cll.NullLevel(column), cll.ExactMatchLevel(column), *levels, cll.ElseLevel()],
        comparison_description=description,
    )


def comparisons():
    import splink.comparison_level_library as cll

    return [
        _comparison("name", [cll.LevenshteinLevel("name", 1), cll.JaroWinklerLevel("name", 0.7)],
                    "name: exact / one character differs / Jaro-Winkler >= 0.7 / else"),
        _comparison("birth_date",
                    [cll.CustomLevel("levenshtein(cast(birth_date_l as string), cast(birth_date_r as string)) <= 1",
                                     "one digit differs")],
                    "birth date: exact / one digit differs / else"),
        _comparison("sex", [], "sex: exact / else",
                    null_level=cll.CustomLevel("sex_l is null or sex_r is null or sex_l = 'U' or sex_r = 'U'",
                                               "sex unknown").configure(is_null_level=True)),
        _comparison("phone", [cll.LevenshteinLevel("phone", 2)], "phone: exact / up to 2 digits differ / else"),
        _comparison("id_number", [cll.LevenshteinLevel("id_number", 2)],
                    "ID number: exact / up to 2 characters differ / else"),
        _comparison("address",
                    [cll.JaroWinklerLevel("address", 0.9), cll.CustomLevel("region_code_l = region_code_r", "same region code")],
                    "address: exact / Jaro-Winkler >= 0.9 / same region / else"),
    ]


def settings_creator():
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=UNIQUE_ID,
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
        additional_columns_to_retain=[],
        max_iterations=20,
        em_convergence=0.0001,
    )
