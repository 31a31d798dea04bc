-- 南湖医院 ADT/LIS feed (HL7 v2.5): one row per message, typed. The entity models below explode it.
with source as (
    select * from {{ bronze_source('h04_nanhu_adt', 'messages') }}
)

select
    _source_id as source_id,
    {{ clean('message_control_id') }} as message_control_id,
    {{ clean('message_type') }} as message_type,
    split({{ clean('message_type') }}, '\\^')[1] as trigger_event,
    {{ hl7_ts_to_utc('message_datetime') }} as message_time,
    {{ clean('sending_facility') }} as sending_facility,
    {{ clean('patient_source_id') }} as patient_source_id,
    {{ norm_id_number('id_number') }} as id_number,
    {{ clean('id_number') }} as id_number_source_value,
    {{ clean('name') }} as name,
    {{ std_sex('sex') }} as sex,
    {{ clean('sex') }} as sex_source_value,
    to_date(try_to_timestamp(substr(trim(birth_date), 1, 8), 'yyyyMMdd')) as birth_date,
    {{ norm_phone('phone') }} as phone,
    -- PID-11 joins street .. country with spaces: drop the trailing ISO country
    nullif(trim(regexp_replace(address, '\\s+(CHN|CN)$', '')), '') as address,
    {{ clean('visit_class') }} as visit_class,
    {{ std_visit_type('visit_class') }} as visit_type,
    {{ clean('department_code') }} as department_code,
    {{ clean('doctor_code') }} as doctor_code,
    {{ clean('encounter_source_id') }} as encounter_source_id,
    {{ hl7_ts_to_utc('admit_time') }} as admit_time,
    {{ hl7_ts_to_utc('discharge_time') }} as discharge_time,
    observations_json,
    diagnoses_json,
    {{ lineage_columns() }}
from source
