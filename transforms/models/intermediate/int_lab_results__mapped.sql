-- Lab results with LOINC (local codes through seed map_local_lab_codes), the measurement concept
-- (seed map_loinc_measurement) and the unit concept (seed map_units). Unmapped -> 0. Sources whose codes are not
-- LOINC (var source_vocabularies, e.g. MIMIC-III itemids) stay unmapped unless a local mapping exists.
{{ config(materialized='view') }}

select
    l.*,
    case when local.loinc_code is not null then 'local:' || l.source_id
         else {{ source_vocabulary('measurement', 'l.source_id', "'LOINC'") }} end as source_vocabulary_id,
    coalesce(local.loinc_code, l.lab_code) as loinc_code,
    coalesce(loinc.target_concept_id, 0) as measurement_concept_id,
    loinc.target_concept_id is not null as is_mapped,
    coalesce(u.ucum_unit, l.unit) as unit_ucum,
    coalesce(u.unit_concept_id, 0) as unit_concept_id
from {{ ref('int_lab_results') }} l
left join {{ ref('map_local_lab_codes') }} local
    on local.source_id = l.source_id and local.local_code = l.lab_code
left join {{ ref('map_loinc_measurement') }} loinc
    on loinc.loinc_code = coalesce(local.loinc_code, l.lab_code)
    and (local.loinc_code is not null or {{ source_vocabulary('measurement', 'l.source_id', "'LOINC'") }} = 'LOINC')
left join {{ ref('map_units') }} u
    on u.source_unit = l.unit
