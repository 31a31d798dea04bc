{#- Deterministic surrogate ids (bigint >= 0) from natural keys: a full refresh rebuilds the same ids. -#}
{% macro surrogate_id(cols) -%}
    pmod(xxhash64({{ cols | join(", ") }}), 9223372036854775807)
{%- endmacro %}

{#- The silver dedupe rule (documented in models/intermediate/_intermediate__models.yml):
    one row per source key `keys`; the survivor is the latest `updated_at` (when the entity has one),
    then the latest `_ingested_at`, then the latest extract date, file and row. -#}
{% macro dedupe_order(has_updated_at=true) -%}
    order by {% if has_updated_at %}updated_at desc nulls last, {% endif %}_ingested_at desc, _extract_date desc nulls last, _source_file desc, _row_number desc
{%- endmacro %}

{#- Incremental merge of an append-daily entity, identical to a full rebuild:
    new bronze batches (by _ingested_at) plus the rows already kept for the same keys are ranked
    again with the dedupe rule, so a late file with an older updated_at never wins by arriving last. -#}
{% macro incremental_latest(source_sql, keys, has_updated_at=true) -%}
with incoming as (
    {{ source_sql }}
),
{% if is_incremental() %}
new_rows as (
    select * from incoming
    where _ingested_at > (select coalesce(max(_ingested_at), timestamp'1900-01-01') from {{ this }})
),
candidates as (
    select * from new_rows
    union all
    select existing.* from {{ this }} as existing
    left semi join new_rows on {% for k in keys %}existing.{{ k }} <=> new_rows.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
)
{% else %}
candidates as (
    select * from incoming
)
{% endif %}
select * from candidates
qualify row_number() over (partition by {{ keys | join(", ") }} {{ dedupe_order(has_updated_at) }}) = 1
{%- endmacro %}

{#- Master data matching keys (one place each; md_<entity>.sql groups by them, md_<entity>_xref.sql hashes them).
    Device: manufacturer + serial number (upper-case) is one physical device; without a serial, the source record.
    Provider: the national practising licence number; without one, the source record. -#}
{% macro device_master_key(d) -%}
    case when {{ d }}.serial_no is not null then upper(coalesce({{ d }}.manufacturer, '')) || '|' || {{ d }}.serial_no
         else {{ d }}.source_id || ':' || {{ d }}.device_code end
{%- endmacro %}

{% macro provider_master_key(d) -%}
    coalesce({{ d }}.license_no, {{ d }}.source_id || ':' || {{ d }}.doctor_code)
{%- endmacro %}
