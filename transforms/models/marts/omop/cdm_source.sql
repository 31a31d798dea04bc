-- OMOP CDM_SOURCE: one row describing this CDM instance.
select
    'carelake regional health data platform' as cdm_source_name,
    'carelake' as cdm_source_abbreviation,
    'carelake' as cdm_holder,
    'Hospitals and primary care centres of the region (CSV, FHIR, HL7 v2 extracts) through carelake bronze/silver.' as source_description,
    'metadata/sources.yml' as source_documentation_reference,
    'transforms/ (dbt)' as cdm_etl_reference,
    coalesce((select max(to_date(_ingested_at)) from {{ ref('int_encounters') }}), current_date()) as source_release_date,
    coalesce((select max(to_date(_ingested_at)) from {{ ref('int_encounters') }}), current_date()) as cdm_release_date,
    'v5.4' as cdm_version,
    756265 as cdm_version_concept_id,
    'carelake seeds 0.1' as vocabulary_version
