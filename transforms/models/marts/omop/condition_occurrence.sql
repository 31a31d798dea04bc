-- OMOP CONDITION_OCCURRENCE from silver diagnoses; condition_concept_id from seed map_icd10_condition
-- (0 when unmapped; the code stays in condition_source_value).
with diagnoses as (
    select d.*, m.person_id
    from {{ ref('int_diagnoses__mapped') }} d
    join {{ source('mpi', 'mpi_person_map') }} m
        on m.source_id = d.source_id and m.patient_source_id = d.patient_source_id
)

select
    {{ surrogate_id(["d.source_id", "d.diagnosis_source_id"]) }} as condition_occurrence_id,
    d.person_id,
    d.condition_concept_id,
    to_date(from_utc_timestamp(coalesce(d.diagnosis_time, v.visit_start_datetime, cast(d._extract_date as timestamp)), {{ source_tz("d.source_id") }})) as condition_start_date,
    coalesce(d.diagnosis_time, v.visit_start_datetime) as condition_start_datetime,
    cast(null as date) as condition_end_date,
    cast(null as timestamp) as condition_end_datetime,
    32817 as condition_type_concept_id,
    0 as condition_status_concept_id,
    cast(null as string) as stop_reason,
    v.provider_id,
    v.visit_occurrence_id,
    cast(null as bigint) as visit_detail_id,
    d.diagnosis_code as condition_source_value,
    0 as condition_source_concept_id,
    d.diagnosis_type as condition_status_source_value,
    d.source_id as _source_id, d._source_file, d._row_number
from diagnoses d
left join {{ ref('visit_occurrence') }} v
    on v.visit_occurrence_id = {{ surrogate_id(["d.source_id", "d.encounter_source_id"]) }}
