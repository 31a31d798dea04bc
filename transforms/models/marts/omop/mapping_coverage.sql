-- Terminology coverage: per source and vocabulary, how many silver records found a concept.
with coded as (
    select source_id, 'condition' as domain, source_vocabulary_id as vocabulary, is_mapped, diagnosis_code as code
    from {{ ref('int_diagnoses__mapped') }}
    union all
    select source_id, 'measurement', source_vocabulary_id, is_mapped, lab_code from {{ ref('int_lab_results__mapped') }}
    union all
    select source_id, 'unit', 'UCUM', unit_concept_id <> 0, unit from {{ ref('int_lab_results__mapped') }}
    union all
    select source_id, 'drug', source_vocabulary_id, is_mapped, drug_code from {{ ref('int_prescriptions__mapped') }}
    union all
    select source_id, 'procedure', source_vocabulary_id, is_mapped, procedure_code from {{ ref('int_procedures__mapped') }}
    union all
    select source_id, 'visit', 'Visit', visit_type is not null, visit_type_source_value from {{ ref('int_encounters') }}
    union all
    select source_id, 'gender', 'Gender', sex in ('M', 'F'), sex_source_value from {{ ref('int_patients') }}
)

select
    source_id,
    domain,
    vocabulary,
    count(*) as total_records,
    count_if(is_mapped) as mapped_records,
    count_if(not is_mapped) as unmapped_records,
    round(count_if(is_mapped) / count(*), 4) as mapped_ratio,
    count(distinct code) filter (where not is_mapped) as unmapped_distinct_codes,
    slice(array_sort(collect_set(code) filter (where not is_mapped)), 1, 20) as unmapped_code_examples
from coded
group by source_id, domain, vocabulary
