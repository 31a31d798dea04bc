-- OMOP SOURCE_TO_CONCEPT_MAP: every mapping the terminology seeds hold.
select source_code, 0 as source_concept_id, 'ICD10' as source_vocabulary_id, source_name_zh as source_code_description,
       target_concept_id, 'ICD10' as target_vocabulary_id,
       cast(valid_start_date as date) as valid_start_date, cast(valid_end_date as date) as valid_end_date, cast(null as string) as invalid_reason
from {{ ref('map_icd10_condition') }}
union all
select l.local_code, 0, substr('local:' || l.source_id, 1, 20), l.local_name, coalesce(m.target_concept_id, 0), 'LOINC',
       date'1970-01-01', date'2099-12-31', cast(null as string)
from {{ ref('map_local_lab_codes') }} l
left join {{ ref('map_loinc_measurement') }} m on m.loinc_code = l.loinc_code
union all
select loinc_code, 0, 'LOINC', loinc_name, target_concept_id, 'LOINC',
       cast(valid_start_date as date), cast(valid_end_date as date), cast(null as string)
from {{ ref('map_loinc_measurement') }}
union all
select drug_key, 0, 'carelake_drug', drug_name_zh, target_concept_id, 'carelake_drug',
       cast(valid_start_date as date), cast(valid_end_date as date), cast(null as string)
from {{ ref('map_drugs') }}
union all
select source_unit, 0, 'carelake_unit', ucum_unit, unit_concept_id, 'UCUM',
       date'1970-01-01', date'2099-12-31', cast(null as string)
from {{ ref('map_units') }}
union all
select source_route, 0, 'carelake_route', route_name, route_concept_id, 'SNOMED',
       date'1970-01-01', date'2099-12-31', cast(null as string)
from {{ ref('map_routes') }}
union all
select source_code, 0, vocabulary_id, substr(source_name, 1, 255), target_concept_id, vocabulary_id,
       cast(valid_start_date as date), cast(valid_end_date as date), cast(null as string)
from {{ ref('map_vocabulary_codes') }}
union all
select i.icd9_code, 0, 'ICD9CM', substr(i.icd9_name, 1, 255), m.target_concept_id, 'ICD10',
       cast(m.valid_start_date as date), cast(m.valid_end_date as date), cast(null as string)
from {{ ref('map_icd9_icd10') }} i
join {{ ref('map_icd10_condition') }} m on m.source_code = i.icd10_code
