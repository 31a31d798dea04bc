-- Imaging studies: one row per (source, Study Instance UID), linked to the patient and the visit of the PACS's own
-- organisation (seed source_organisations): PatientID is the organisation's patient number, so the study names the
-- patient record (patient_record_source_id, patient_source_id) that the MPI maps to a person in gold; the visit is the
-- organisation's encounter whose number is the AccessionNumber and whose patient is the same (visit_record_source_id,
-- encounter_source_id; null where none matches, e.g. the pydicom sample). Study attributes come from the first
-- instance (lowest series then instance number); modalities lists every modality of the study.
with instances as (
    select * from {{ ref('int_imaging_instances') }}
    where study_instance_uid is not null
),

studies as (
    select
        source_id,
        study_instance_uid,
        min_by(accession_number, struct(series_number, instance_number, sop_instance_uid)) as accession_number,
        min_by(study_id, struct(series_number, instance_number, sop_instance_uid)) as study_id,
        min(study_datetime) as study_datetime,
        min(study_date) as study_date,
        min_by(modality, struct(series_number, instance_number, sop_instance_uid)) as modality,
        array_join(sort_array(collect_set(modality)), ',') as modalities,
        min_by(body_part, struct(series_number, instance_number, sop_instance_uid)) as body_part,
        min_by(study_description, struct(series_number, instance_number, sop_instance_uid)) as study_description,
        min_by(referring_physician_name, struct(series_number, instance_number, sop_instance_uid)) as referring_physician_name,
        min_by(institution_name, struct(series_number, instance_number, sop_instance_uid)) as institution_name,
        min_by(patient_source_id, struct(series_number, instance_number, sop_instance_uid)) as patient_source_id,
        min_by(patient_name, struct(series_number, instance_number, sop_instance_uid)) as patient_name,
        min_by(birth_date, struct(series_number, instance_number, sop_instance_uid)) as birth_date,
        min_by(sex, struct(series_number, instance_number, sop_instance_uid)) as sex,
        count(distinct series_instance_uid) as series_count,
        count(*) as instance_count,
        min_by(_source_file, struct(series_number, instance_number, sop_instance_uid)) as _source_file,
        min_by(_row_number, struct(series_number, instance_number, sop_instance_uid)) as _row_number,
        min(_extract_date) as _extract_date,
        max(_ingested_at) as _ingested_at
    from instances
    group by source_id, study_instance_uid
),

organisations as (
    select source_id, organization_code from {{ ref('source_organisations') }}
),

patients as (
    select p.source_id, o.organization_code, p.patient_source_id
    from {{ ref('int_patients') }} p
    join organisations o on o.source_id = p.source_id
),

visits as (
    select e.source_id, o.organization_code, e.encounter_source_id, e.patient_source_id
    from {{ ref('int_encounters') }} e
    join organisations o on o.source_id = e.source_id
)

select
    s.source_id,
    s.study_instance_uid,
    s.accession_number,
    s.study_id,
    s.study_datetime,
    s.study_date,
    s.modality,
    s.modalities,
    s.body_part,
    s.study_description,
    s.referring_physician_name,
    s.institution_name,
    s.patient_source_id,
    s.patient_name,
    s.birth_date,
    s.sex,
    s.series_count,
    s.instance_count,
    o.organization_code,
    p.source_id as patient_record_source_id,
    v.source_id as visit_record_source_id,
    v.encounter_source_id,
    s._source_file,
    s._row_number,
    s._extract_date,
    s._ingested_at
from studies s
left join organisations o on o.source_id = s.source_id
left join patients p on p.organization_code = o.organization_code and p.patient_source_id = s.patient_source_id
left join visits v
    on v.organization_code = o.organization_code and v.encounter_source_id = s.accession_number
    and v.patient_source_id = s.patient_source_id
qualify row_number() over (partition by s.source_id, s.study_instance_uid order by p.source_id, v.source_id) = 1
