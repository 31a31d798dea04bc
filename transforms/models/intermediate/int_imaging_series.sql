-- Imaging series: one row per (source, Series Instance UID) of the instances that belong to a study. A series'
-- attributes are the same in each of its instances; where files disagree, the first instance (lowest instance
-- number, then SOP Instance UID) speaks for the series. The lineage columns name that instance's file.
with instances as (
    select * from {{ ref('int_imaging_instances') }}
    where study_instance_uid is not null and series_instance_uid is not null
)

select
    source_id,
    series_instance_uid,
    min_by(study_instance_uid, struct(instance_number, sop_instance_uid)) as study_instance_uid,
    min_by(modality, struct(instance_number, sop_instance_uid)) as modality,
    min_by(body_part, struct(instance_number, sop_instance_uid)) as body_part,
    min_by(series_number, struct(instance_number, sop_instance_uid)) as series_number,
    min_by(series_description, struct(instance_number, sop_instance_uid)) as series_description,
    min(coalesce(series_datetime, study_datetime)) as series_datetime,
    count(*) as instance_count,
    min_by(_source_file, struct(instance_number, sop_instance_uid)) as _source_file,
    min_by(_row_number, struct(instance_number, sop_instance_uid)) as _row_number,
    min(_extract_date) as _extract_date,
    max(_ingested_at) as _ingested_at
from instances
group by source_id, series_instance_uid
