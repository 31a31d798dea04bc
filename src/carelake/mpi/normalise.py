"""Normalisation rules for patient identity fields, as Spark SQL expressions.

One place for the rules, so that the dbt model ``int_patients__unioned`` can
mirror them verbatim (each function returns a Spark SQL expression string for
a given input column; paste the same text into the model's SELECT):

=============  ==================================================================
column         rule
=============  ==================================================================
id_number      drop every character that is not a letter or digit (spaces,
               dashes, dots), upper-case (``x`` -> ``X``); empty -> NULL
id_valid       18 characters, 17 digits then a digit or ``X``, and the ISO 7064
               MOD 11-2 check character (GB 11643-1999) matches
name           trim, remove all whitespace (``张 三`` -> ``张三``), upper-case
               (Latin names); empty -> NULL
sex            M / MALE / 男 / 1 -> ``M``; F / FEMALE / 女 / 2 -> ``F``; else ``U``
birth_date     first of ``yyyy-MM-dd``, ``yyyy/MM/dd``, ``yyyyMMdd`` that parses
               (``try_to_date``), else NULL
phone          digits only; a leading ``86`` (13 digits) or ``0086`` (15 digits)
               country prefix is removed; empty -> NULL
address        remove all whitespace (line breaks typed into an address);
               empty -> NULL
region_code    trim; empty -> NULL
updated_at     ``yyyyMMddHHmmss`` (HL7), ``yyyy/MM/dd HH:mm``, else ISO 8601
               (with or without offset; no offset = session time zone, UTC)
=============  ==================================================================
"""

from __future__ import annotations

# weights 2^(17-i) mod 11 for positions 1..17 and the check characters for sum mod 11
ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
ID_CHECK_CHARS = "10X98765432"


def id_number_sql(col: str) -> str:
    return f"nullif(upper(regexp_replace(cast({col} as string), '[^0-9A-Za-z]', '')), '')"


def id_valid_sql(col: str) -> str:
    """True when ``col`` (already normalised) is a valid 18-character resident ID number."""
    total = " + ".join(f"cast(substr({col}, {i + 1}, 1) as int) * {w}" for i, w in enumerate(ID_WEIGHTS))
    return (f"coalesce({col} rlike '^[0-9]{{17}}[0-9X]$' "
            f"and substr('{ID_CHECK_CHARS}', pmod({total}, 11) + 1, 1) = substr({col}, 18, 1), false)")


def name_sql(col: str) -> str:
    return rf"nullif(upper(regexp_replace(cast({col} as string), '\\s+', '')), '')"


def sex_sql(col: str) -> str:
    v = f"upper(trim(cast({col} as string)))"
    return (f"case when {v} in ('M', 'MALE', '男', '1') then 'M' "
            f"when {v} in ('F', 'FEMALE', '女', '2') then 'F' else 'U' end")


def birth_date_sql(col: str) -> str:
    v = f"trim(cast({col} as string))"
    return (f"coalesce(try_to_date({v}, 'yyyy-MM-dd'), try_to_date({v}, 'yyyy/MM/dd'), "
            f"try_to_date({v}, 'yyyyMMdd'))")


def phone_sql(col: str) -> str:
    d = f"regexp_replace(cast({col} as string), '[^0-9]', '')"
    return (f"nullif(case when length({d}) = 13 and {d} like '86%' then substr({d}, 3) "
            f"when length({d}) = 15 and {d} like '0086%' then substr({d}, 5) else {d} end, '')")


def address_sql(col: str) -> str:
    return rf"nullif(regexp_replace(cast({col} as string), '\\s+', ''), '')"


def region_code_sql(col: str) -> str:
    return f"nullif(trim(cast({col} as string)), '')"


def updated_at_sql(col: str) -> str:
    v = f"trim(cast({col} as string))"
    return (f"case when {v} rlike '^[0-9]{{14}}$' then try_to_timestamp({v}, 'yyyyMMddHHmmss') "
            f"when {v} rlike '^[0-9]{{4}}/' then try_to_timestamp({v}, 'yyyy/MM/dd HH:mm') "
            f"else try_to_timestamp({v}) end")


def normalised_select(columns: dict[str, str]) -> list[str]:
    """SELECT expressions for the contract's columns from ``{contract column: source expression}``.

    ``source_id``, ``patient_source_id`` and ``updated_at`` pass through (cast);
    the identity fields go through the rules above.
    """
    rules = {"id_number": id_number_sql, "name": name_sql, "sex": sex_sql, "birth_date": birth_date_sql,
             "phone": phone_sql, "address": address_sql, "region_code": region_code_sql}
    out = [f"cast({columns['source_id']} as string) as source_id",
           f"cast({columns['patient_source_id']} as string) as patient_source_id"]
    for name, rule in rules.items():
        out.append(f"{rule(columns[name])} as {name}")
    out.append(f"{updated_at_sql(columns['updated_at'])} as updated_at")
    return out


# ---- the same rules in Python (unit tests, small inputs) --------------------------------------


def id_valid(number: str | None) -> bool:
    if not number or len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11] == number[17]
