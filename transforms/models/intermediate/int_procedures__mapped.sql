-- Procedures with their OMOP procedure concept (seed map_vocabulary_codes, by code system and code; unmapped -> 0).
{{ config(materialized='view') }}

select
    p.*,
    p.code_system as source_vocabulary_id,
    coalesce(v.target_concept_id, 0) as procedure_concept_id,
    v.target_concept_id is not null as is_mapped
from {{ ref('int_procedures') }} p
left join {{ ref('map_vocabulary_codes') }} v
    on v.vocabulary_id = p.code_system and v.source_code = p.procedure_code
