-- Prescriptions with the master drug (the hospitals prefix one drug catalogue key, e.g. H01-YP0004 -> YP0004;
-- seed map_drugs), RxNorm codes (Synthea) through seed map_vocabulary_codes, and the route concept (seed map_routes).
-- The vocabulary is per source (var source_vocabularies; default the regional catalogue). Unmapped -> 0.
{{ config(materialized='view') }}

select
    p.*,
    nullif(regexp_extract(p.drug_code, '(YP[0-9]{4})$', 1), '') as drug_key,
    {{ source_vocabulary('drug', 'p.source_id', "'local:drug_catalogue'") }} as source_vocabulary_id,
    coalesce(d.target_concept_id, v.target_concept_id, 0) as drug_concept_id,
    coalesce(d.target_concept_id, v.target_concept_id) is not null as is_mapped,
    coalesce(r.route_concept_id, 0) as route_concept_id
from {{ ref('int_prescriptions') }} p
left join {{ ref('map_drugs') }} d
    on d.drug_key = regexp_extract(p.drug_code, '(YP[0-9]{4})$', 1)
left join {{ ref('map_vocabulary_codes') }} v
    on v.vocabulary_id = {{ source_vocabulary('drug', 'p.source_id', "'local:drug_catalogue'") }} and v.source_code = p.drug_code
left join {{ ref('map_routes') }} r
    on r.source_route = p.route
