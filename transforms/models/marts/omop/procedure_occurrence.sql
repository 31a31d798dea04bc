-- OMOP PROCEDURE_OCCURRENCE from silver procedures (Synthea SNOMED CT, MIMIC-III ICD-9 procedure codes) and imaging
-- studies (int_imaging_studies: one procedure per DICOM study, id from (PACS, Study Instance UID) as in
-- image_occurrence.procedure_occurrence_id; source value "<modality> <body part>", concept 0 until a DICOM procedure
-- vocabulary is mapped). procedure_concept_id from seed map_vocabulary_codes (0 when unmapped; the code stays in
-- procedure_source_value). A procedure without its own time (MIMIC PROCEDURES_ICD) is dated at the start of its visit.
-- A study's person comes from its patient record (the PatientID at the PACS's organisation) through the MPI.
with events as (
    select source_id, procedure_source_id, source_id as patient_record_source_id, patient_source_id,
        source_id as visit_record_source_id, encounter_source_id, procedure_concept_id, procedure_code,
        procedure_time, procedure_end_time, _extract_date, _source_file, _row_number
    from {{ ref('int_procedures__mapped') }}
    union all
    select source_id, study_instance_uid, patient_record_source_id, patient_source_id,
        visit_record_source_id, encounter_source_id, 0, concat_ws(' ', modality, body_part),
        study_datetime, study_datetime, _extract_date, _source_file, _row_number
    from {{ ref('int_imaging_studies') }}
),

procedures as (
    select p.*, m.person_id
    from events p
    join {{ source('mpi', 'mpi_person_map') }} m
        on m.source_id = p.patient_record_source_id and m.patient_source_id = p.patient_source_id
),

timed as (
    select p.*, v.visit_occurrence_id, v.provider_id,
        coalesce(p.procedure_time, v.visit_start_datetime, cast(p._extract_date as timestamp)) as started_at
    from procedures p
    left join {{ ref('visit_occurrence') }} v
        on v.visit_occurrence_id = {{ surrogate_id(["p.visit_record_source_id", "p.encounter_source_id"]) }}
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
