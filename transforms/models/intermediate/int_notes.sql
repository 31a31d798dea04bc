-- clinical notes of all sources, one row per source key (dedupe rule: see _intermediate__models.yml).
-- Free text with personal data: silver only. Gold reads silver.deid_notes (redacted by carelake.privacy).
-- Appended daily: incremental merge; the merge re-ranks new rows with the kept ones, so a
-- full refresh rebuilds the same table.
{{ config(materialized='incremental', incremental_strategy='merge', unique_key=['source_id', 'note_source_id']) }}

{{ int_entity('notes') }}
