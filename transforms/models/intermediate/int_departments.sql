-- departments (master data snapshots) of all sources, one row per source code: the latest extract wins.
{{ config(materialized='table') }}

{{ incremental_latest(union_staging('departments'), entity_spec('departments')['key'], false) }}
