{#- The rows of one bronze table as staging reads them: the live table, plus the rows the lifecycle moved to its
    archive (metadata/lifecycle.yml `archive_after_days`; Delta location <lake>/_archive/bronze/<table>), so a
    full refresh of silver still sees every row bronze ever received until retention expires it.

    carelake passes var `archived_bronze` = {bronze table name: archive path} for the archives that exist
    (carelake.transform); without it (or without an archive) this is just source(source_name, table_name).
    Archive columns are matched to the live table's by name (the archive may lack a column bronze gained later:
    null; its own _archive_batch / _archived_at are left out). A row in both — a run that died between the
    archive write and the live delete, before the lifecycle rerun repaired it — is read once: the archive copy
    is skipped when the live table still has the same bronze row (file checksum + row number). -#}
{% macro bronze_source(source_name, table_name) -%}
    {%- set live = source(source_name, table_name) -%}
    {%- set archive = var('archived_bronze', {}).get(live.identifier) -%}
    {%- if archive and execute -%}
        {%- set live_columns = adapter.get_columns_in_relation(live) | map(attribute='name') | list -%}
        {%- set archive_columns = run_query('select * from delta.`' ~ archive ~ '` limit 0').column_names | map('lower') | list -%}
        (
            select * from {{ live }}
            union all
            select {% for c in live_columns -%}
                {%- if c | lower in archive_columns %}a.`{{ c }}`{% else %}null{% endif %} as `{{ c }}`{% if not loop.last %}, {% endif -%}
            {%- endfor %}
            from delta.`{{ archive }}` a
            left anti join {{ live }} l on l._file_sha256 <=> a._file_sha256 and l._row_number <=> a._row_number
        )
    {%- else -%}
        {{ live }}
    {%- endif -%}
{%- endmacro %}
