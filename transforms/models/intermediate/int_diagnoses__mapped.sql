-- Diagnoses with their OMOP condition concept: ICD-10 through seed map_icd10_condition, ICD-9-CM first to ICD-10
-- (seed map_icd9_icd10), other code systems (SNOMED CT) through seed map_vocabulary_codes. Unmapped -> 0, source value kept.
-- A view: an edit of the seed applies at the next gold build without a full refresh of silver.
{{ config(materialized='view') }}

select
    d.*,
    case when d.code_system = 'ICD10' or d.code_system is null then 'ICD10' else d.code_system end as source_vocabulary_id,
    coalesce(m.target_concept_id, v.target_concept_id, 0) as condition_concept_id,
    coalesce(m.target_concept_id, v.target_concept_id) is not null as is_mapped
from {{ ref('int_diagnoses') }} d
left join {{ ref('map_icd9_icd10') }} icd9
    on d.code_system = 'ICD9CM' and icd9.icd9_code = d.diagnosis_code
left join {{ ref('map_icd10_condition') }} m
    on m.source_code = case when d.code_system = 'ICD9CM' then icd9.icd10_code else d.diagnosis_code end
left join {{ ref('map_vocabulary_codes') }} v
    on v.vocabulary_id = d.code_system and v.source_code = d.diagnosis_code
