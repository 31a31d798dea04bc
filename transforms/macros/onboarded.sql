{#- Rows of seed source_organisations for the sources onboarded by configuration only (no committed staging):
    carelake passes them as var `onboarded_organisations` (from metadata/sources.yml: organization, name, kind,
    region) and this post-hook of the seed adds them, cast to the seed's column types. -#}
{% macro insert_onboarded_organisations() -%}
    {%- set rows = var("onboarded_organisations", []) -%}
    {%- if rows and execute -%}
        {%- set columns = adapter.get_columns_in_relation(this) -%}
        insert into {{ this }}
        {% for row in rows -%}
        select {% for column in columns -%}
            cast({% if row.get(column.name) is none %}null{% else %}'{{ row[column.name] | replace("'", "\\'") }}'{% endif %} as {{ column.data_type }}) as {{ column.name }}{% if not loop.last %}, {% endif %}
        {%- endfor %}
        {% if not loop.last %}union all{% endif %}
        {% endfor %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
