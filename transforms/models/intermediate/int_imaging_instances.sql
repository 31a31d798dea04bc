-- DICOM instances (one per SOP Instance UID and source) of every PACS source and the pydicom sample, one row per
-- source key (dedupe rule: see _intermediate__models.yml): the same instance landed twice (again in a later export, or
-- in another transfer syntax) is kept once. Incremental merge, like the other event entities.
{{ config(materialized='incremental', incremental_strategy='merge', unique_key=['source_id', 'sop_instance_uid']) }}

{{ int_entity('imaging_instances') }}
