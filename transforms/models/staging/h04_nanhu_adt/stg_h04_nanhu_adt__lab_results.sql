-- Lab results: OBX segments of ORU^R01 messages, exploded from observations_json.
-- Key: visit + LOINC code + observation time (a resent ORU repeats the same result).
with messages as (
    select * from {{ ref('stg_h04_nanhu_adt__messages') }}
    where message_type = 'ORU^R01' and observations_json is not null and observations_json <> '[]'
),

exploded as (
    select m.*, obx
    from messages m
    lateral view explode(
        from_json(observations_json, 'array<struct<set_id:string,value_type:string,code:string,name:string,coding_system:string,value:string,units:string,reference_range:string,abnormal_flag:string,status:string,observation_time:string>>')
    ) o as obx
)

select
    source_id,
    concat_ws(':', encounter_source_id, upper(trim(obx.code)), trim(obx.observation_time)) as lab_result_source_id,
    encounter_source_id,
    patient_source_id,
    upper({{ clean('obx.code') }}) as lab_code,
    {{ clean('obx.name') }} as lab_name,
    {{ clean('obx.value') }} as value_source_value,
    try_cast({{ clean('obx.value') }} as double) as value_as_number,
    {{ std_unit('obx.units') }} as unit,
    {{ clean('obx.reference_range') }} as reference_range,
    try_cast(regexp_extract(obx.reference_range, '^\\s*([0-9.]+)\\s*-', 1) as double) as range_low,
    try_cast(regexp_extract(obx.reference_range, '-\\s*([0-9.]+)\\s*$', 1) as double) as range_high,
    {{ std_abnormal_flag('obx.abnormal_flag') }} as abnormal_flag,
    {{ hl7_ts_to_utc('obx.observation_time') }} as specimen_time,
    message_time as result_time,
    message_control_id,
    {{ lineage_columns() }}
from exploded
