-- procedures of all sources (today the samples: Synthea SNOMED CT, MIMIC-III ICD-9 procedure codes), one row per
-- source key (dedupe rule: see _intermediate__models.yml). Incremental merge, like the other event entities.
{{ config(materialized='incremental', incremental_strategy='merge', unique_key=['source_id', 'procedure_source_id']) }}

{{ int_entity('procedures') }}
