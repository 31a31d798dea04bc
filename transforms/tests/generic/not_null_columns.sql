{#- One test for all required columns of a model: one row (column_name, null_rows) per listed column that has nulls.
    Replaces a `not_null` test per column: the same checks in one dbt node and one scan of the model, not one each. -#}
{% test not_null_columns(model, columns) %}
with null_rows as (
    select
    {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)
{% for column in columns -%}
select '{{ column }}' as column_name, {{ column }} as null_rows from null_rows where {{ column }} > 0
{% if not loop.last %}union all
{% endif %}
{%- endfor %}
{% endtest %}
