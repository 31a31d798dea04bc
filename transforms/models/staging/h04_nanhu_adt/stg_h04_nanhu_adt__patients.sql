-- Patients as carried by the PID segment of every message: one row per message with a PID
-- (the same patient repeats; int_patients keeps the latest message per patient).
-- The region code is PID-11.9 (county/parish code), read from segments_json.
with messages as (
    select * from {{ ref('stg_h04_nanhu_adt__messages') }}
    where patient_source_id is not null
),

pid as (
    select
        _source_file, _row_number,
        nullif(trim(
            filter(from_json(segments_json, 'array<struct<id:string,fields:array<array<array<array<string>>>>>>'), s -> s.id = 'PID')[0]
            .fields[10][0][8][0]
        ), '') as region_code
    from {{ bronze_source('h04_nanhu_adt', 'messages') }}
)

select
    m.source_id,
    m.patient_source_id,
    m.id_number,
    m.id_number_source_value,
    m.name,
    m.sex,
    m.sex_source_value,
    m.birth_date,
    m.phone,
    m.address,
    pid.region_code,
    cast(null as string) as insurance_no,
    cast(null as date) as death_date,
    cast(null as string) as ethnicity,
    m.message_time as updated_at,
    m.message_control_id,
    m.message_type,
    m._source_id, m._source_file, m._file_sha256, m._batch_id, m._row_number, m._extract_date, m._ingested_at
from messages m
left join pid on pid._source_file = m._source_file and pid._row_number = m._row_number
