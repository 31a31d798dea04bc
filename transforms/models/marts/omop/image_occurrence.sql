-- IMAGE_OCCURRENCE of the OHDSI medical imaging extension (MI-CDM): one row per DICOM series of a study whose patient
-- the MPI knows (int_imaging_series + int_imaging_studies). procedure_occurrence_id is the study's row in
-- procedure_occurrence (same surrogate key: PACS + Study Instance UID); visit_occurrence_id the study's visit.
-- wadors_uri is the series' DICOMweb (WADO-RS) path, relative to the PACS's DICOMweb root; local_path the folder of the
-- series' first landed file. anatomic_site_concept_id and modality_concept_id are 0 until the DICOM modality and body
-- part terms are mapped to concepts. No patient name or patient id reaches this table.
with studies as (
    select s.*, m.person_id
    from {{ ref('int_imaging_studies') }} s
    join {{ source('mpi', 'mpi_person_map') }} m
        on m.source_id = s.patient_record_source_id and m.patient_source_id = s.patient_source_id
)

select
    {{ surrogate_id(["r.source_id", "r.series_instance_uid"]) }} as image_occurrence_id,
    s.person_id,
    {{ surrogate_id(["s.source_id", "s.study_instance_uid"]) }} as procedure_occurrence_id,
    v.visit_occurrence_id,
    0 as anatomic_site_concept_id,
    concat('studies/', s.study_instance_uid, '/series/', r.series_instance_uid) as wadors_uri,
    regexp_extract(r._source_file, '^(.*)/[^/]*$', 1) as local_path,
    {{ local_date("coalesce(r.series_datetime, s.study_datetime, cast(s._extract_date as timestamp))", "r.source_id") }} as image_occurrence_date,
    s.study_instance_uid as image_study_uid,
    r.series_instance_uid as image_series_uid,
    0 as modality_concept_id,
    r.source_id as _source_id, r._source_file, r._row_number
from {{ ref('int_imaging_series') }} r
join studies s on s.source_id = r.source_id and s.study_instance_uid = r.study_instance_uid
left join {{ ref('visit_occurrence') }} v
    on v.visit_occurrence_id = {{ surrogate_id(["s.visit_record_source_id", "s.encounter_source_id"]) }}
