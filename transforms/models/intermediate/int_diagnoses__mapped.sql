-- Diagnoses with their OMOP condition concept (seed map_icd10_condition; unmapped -> 0, source value kept).
-- A view: an edit of the seed applies at the next gold build without a full refresh of silver.
{{ config(materialized='view') }}

select
    d.*,
    case when d.code_system = 'ICD10' or d.code_system is null then 'ICD10' else d.code_system end as source_vocabulary_id,
    coalesce(m.target_concept_id, 0) as condition_concept_id,
    m.target_concept_id is not null as is_mapped
from {{ ref('int_diagnoses') }} d
left join {{ ref('map_icd10_condition') }} m
    on m.source_code = d.diagnosis_code
