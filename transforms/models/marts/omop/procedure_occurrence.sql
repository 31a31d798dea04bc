-- OMOP PROCEDURE_OCCURRENCE from silver procedures (Synthea SNOMED CT, MIMIC-III ICD-9 procedure codes);
-- procedure_concept_id from seed map_vocabulary_codes (0 when unmapped; the code stays in procedure_source_value).
-- A procedure without its own time (MIMIC PROCEDURES_ICD) is dated at the start of its visit.
with procedures as (
    select p.*, m.person_id
    from {{ ref('int_procedures__mapped') }} p
    join {{ source('mpi', 'mpi_person_map') }} m
        on m.source_id = p.source_id and m.patient_source_id = p.patient_source_id
),

timed as (
    select p.*, v.visit_occurrence_id, v.provider_id,
        coalesce(p.procedure_time, v.visit_start_datetime, cast(p._extract_date as timestamp)) as started_at
    from procedures p
    left join {{ ref('visit_occurrence') }} v
        on v.visit_occurrence_id = {{ surrogate_id(["p.source_id", "p.encounter_source_id"]) }}
)

select
    {{ surrogate_id(["t.source_id", "t.procedure_source_id"]) }} as procedure_occurrence_id,
    t.person_id,
    t.procedure_concept_id,
    {{ local_date("t.started_at", "t.source_id") }} as procedure_date,
    t.procedure_time as procedure_datetime,
    {{ local_date("greatest(t.procedure_end_time, t.started_at)", "t.source_id") }} as procedure_end_date,
    t.procedure_end_time as procedure_end_datetime,
    32817 as procedure_type_concept_id,
    0 as modifier_concept_id,
    cast(null as int) as quantity,
    t.provider_id,
    t.visit_occurrence_id,
    cast(null as bigint) as visit_detail_id,
    t.procedure_code as procedure_source_value,
    0 as procedure_source_concept_id,
    cast(null as string) as modifier_source_value,
    t.source_id as _source_id, t._source_file, t._row_number
from timed t
