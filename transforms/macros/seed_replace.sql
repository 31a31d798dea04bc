{#- Seeds replace an existing table in ONE Delta commit (`create or replace table`), never drop it and create it
    again. dbt-spark's own spark__reset_csv_table drops the table first, so every seed run passes through a window -
    after the new table's Delta commit, before the metastore registers it - in which a killed process leaves a Delta
    folder the catalog does not know, and every later create of the seed then fails with
    DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION (seen by tests/e2e/test_crash_safety.py). With a replace the catalog
    entry stays; a kill between the replace and the row inserts leaves a partly loaded seed, which the rerun
    replaces and loads again. Same statement as dbt-spark's spark__create_csv_table but for `or replace`. -#}
{% macro spark__reset_csv_table(model, full_refresh, old_relation, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}

  {% set sql %}
    create or replace table {{ this.render() }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
            {%- set type = column_override.get(col_name, inferred_type) -%}
            {%- set column_name = (col_name | string) -%}
            {{ adapter.quote_seed_column(column_name, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
        {%- endfor -%}
    )
    {{ file_format_clause() }}
    {{ partition_cols(label="partitioned by") }}
    {{ clustered_cols(label="clustered by") }}
    {{ location_clause() }}
    {{ comment_clause() }}
  {% endset %}

  {% call statement('_') -%}
    {{ sql }}
  {%- endcall %}

  {{ return(sql) }}
{% endmacro %}
