{#- The staging model of one canonical bronze table (a table-shaped source: CSV, FHIR), one row per
    bronze row, typed and standardised. Called as the whole body of models/staging/<source>/stg_<source>__<entity>.sql;
    the source and entity come from that model's name, the columns and their rules from entity_spec(entity)["staging"].

    date_format      format of the source's dates (to_date_fmt)
    datetime_format  format of its local wall-clock times (local_ts_to_utc); none = ISO 8601 with an offset (FHIR)
    strip_refs       columns of rule `ref` are references 'Type/id' (FHIR): keep the id
    missing          canonical bronze columns the source does not deliver: every column read from one is a typed null
    extras           {silver column of rule `extra`: the source's own bronze column}; unlisted extras are null
    table            the bronze entity to read when it is not the canonical one (Synthea's `conditions` staged as diagnoses)
    columns          {canonical bronze column: SQL expression over the bronze row} for sources whose tables are not
                     mapped onto canonical names (or need a derived value, e.g. a record key or a constant code system)
    Times without an offset are in the source's zone: var('source_timezones')[source], else var('source_timezone').

    Rules: text (trimmed, blank -> null), ref, upper, lower, num (double), int, date, ts, extra, dicom_date (DICOM DA
    YYYYMMDD), dicom_ts (a DICOM DA column and its TM partner, `<x>_date` + `<x>_time`, local -> UTC), and the standardisers
    of macros/standardise.sql (id_number, phone, sex, visit_type, discharge_status, diagnosis_type, department_type,
    code_system, unit, abnormal_flag); range_low / range_high parse a reference range 'low - high'. -#}
{% macro stg_canonical(date_format='yyyy-MM-dd', datetime_format='yyyy-MM-dd HH:mm:ss', strip_refs=false, missing=[], extras={}, table=none, columns={}) -%}
    {%- set name = model.name -%}
    {%- if not name.startswith('stg_') or '__' not in name -%}
        {{ exceptions.raise_compiler_error("stg_canonical: model name must be stg_<source>__<entity>, got " ~ name) }}
    {%- endif -%}
    {%- set source_name, entity = name[4:].split('__', 1) -%}
    {%- set null_types = {"date": "date", "ts": "timestamp", "num": "double", "int": "int", "range_low": "double", "range_high": "double",
                          "dicom_date": "date", "dicom_ts": "timestamp"} -%}
with source as (
    select * from {{ bronze_source(source_name, table or entity) }}
)

select
    _source_id as source_id,
{%- for column, rule in entity_spec(entity)["staging"] %}
    {%- set kind = rule.split(':', 1)[0] %}
    {%- set bronze_col = rule.split(':', 1)[1] if ':' in rule else column %}
    {%- set col = columns.get(bronze_col, bronze_col) %}
    {% if kind == 'extra' -%}
        {%- if column in extras %}{{ clean('`' ~ extras[column] ~ '`') }}{% else %}cast(null as string){% endif -%}
    {%- elif bronze_col in missing -%}
        cast(null as {{ null_types.get(kind, 'string') }})
    {%- elif kind == 'text' -%}
        {{ clean(col) }}
    {%- elif kind == 'ref' -%}
        {%- if strip_refs %}{{ strip_ref(col) }}{% else %}{{ clean(col) }}{% endif -%}
    {%- elif kind == 'upper' -%}
        upper({{ clean(col) }})
    {%- elif kind == 'lower' -%}
        lower({{ clean(col) }})
    {%- elif kind == 'num' -%}
        try_cast({{ clean(col) }} as double)
    {%- elif kind == 'int' -%}
        try_cast({{ clean(col) }} as int)
    {%- elif kind == 'dicom_date' -%}
        {{ dicom_date(col) }}
    {%- elif kind == 'dicom_ts' -%}
        {{ dicom_ts(col, col | replace('_date', '_time'), source_timezone_of(source_name)) }}
    {%- elif kind == 'range_low' -%}
        try_cast(regexp_extract({{ col }}, '^\\s*([0-9.]+)\\s*-', 1) as double)
    {%- elif kind == 'range_high' -%}
        try_cast(regexp_extract({{ col }}, '-\\s*([0-9.]+)\\s*$', 1) as double)
    {%- elif kind == 'date' -%}
        {{ to_date_fmt(col, date_format) }}
    {%- elif kind == 'ts' -%}
        {%- if datetime_format is none %}{{ offset_ts_to_utc(col) }}{% else %}{{ local_ts_to_utc(col, datetime_format, source_timezone_of(source_name)) }}{% endif -%}
    {%- elif kind == 'id_number' -%}
        {{ norm_id_number(col) }}
    {%- elif kind == 'phone' -%}
        {{ norm_phone(col) }}
    {%- elif kind == 'sex' -%}
        {{ std_sex(col) }}
    {%- elif kind == 'visit_type' -%}
        {{ std_visit_type(col) }}
    {%- elif kind == 'discharge_status' -%}
        {{ std_discharge_status(col) }}
    {%- elif kind == 'diagnosis_type' -%}
        {{ std_diagnosis_type(col) }}
    {%- elif kind == 'department_type' -%}
        {{ std_department_type(col) }}
    {%- elif kind == 'code_system' -%}
        {{ std_code_system(col) }}
    {%- elif kind == 'unit' -%}
        {{ std_unit(col) }}
    {%- elif kind == 'abnormal_flag' -%}
        {{ std_abnormal_flag(col) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("stg_canonical: unknown rule " ~ rule ~ " of " ~ entity ~ "." ~ column) }}
    {%- endif %} as {{ column }},
{%- endfor %}
    {{ lineage_columns() }}
from source
{%- endmacro %}
