-- OMOP CONCEPT, the subset used here: real OMOP standard concepts (seed omop_standard_concepts) and
-- site-specific concepts (ids >= 2,000,000,000, OMOP's range for local concepts) built from the
-- terminology seeds. See seeds/README.md for the id scheme.
select concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, standard_concept, concept_code,
       cast(valid_start_date as date) as valid_start_date, cast(valid_end_date as date) as valid_end_date, invalid_reason
from {{ ref('omop_standard_concepts') }}
union all
select concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, standard_concept, concept_code,
       cast(valid_start_date as date), cast(valid_end_date as date), invalid_reason
from {{ ref('local_concepts') }}
union all
select target_concept_id, substr(source_name_en, 1, 255), 'Condition', 'ICD10', 'ICD10 code', 'S', source_code,
       cast(valid_start_date as date), cast(valid_end_date as date), cast(null as string)
from {{ ref('map_icd10_condition') }}
union all
select target_concept_id, substr(loinc_name, 1, 255), 'Measurement', 'LOINC', 'Lab Test', 'S', loinc_code,
       cast(valid_start_date as date), cast(valid_end_date as date), cast(null as string)
from {{ ref('map_loinc_measurement') }}
union all
select target_concept_id, substr(drug_name_en, 1, 255), 'Drug', 'carelake_drug', 'Drug Product', 'S', drug_key,
       cast(valid_start_date as date), cast(valid_end_date as date), cast(null as string)
from {{ ref('map_drugs') }}
union all
select target_concept_id, substr(coalesce(source_name, source_code), 1, 255), domain_id, vocabulary_id, concept_class_id, 'S', source_code,
       cast(valid_start_date as date), cast(valid_end_date as date), cast(null as string)
from {{ ref('map_vocabulary_codes') }}
