-- Diagnoses: DG1 segments of ADT messages, exploded from diagnoses_json.
-- HL7 DG1 has no record id of its own: the key is visit + DG1 set id + code.
with messages as (
    select * from {{ ref('stg_h04_nanhu_adt__messages') }}
    where diagnoses_json is not null and diagnoses_json <> '[]'
),

exploded as (
    select m.*, dg1
    from messages m
    lateral view explode(
        from_json(diagnoses_json, 'array<struct<set_id:string,code:string,name:string,coding_system:string,diagnosis_type:string,diagnosis_time:string>>')
    ) d as dg1
)

select
    source_id,
    concat_ws(':', encounter_source_id, dg1.set_id, upper(trim(dg1.code))) as diagnosis_source_id,
    encounter_source_id,
    patient_source_id,
    upper({{ clean('dg1.code') }}) as diagnosis_code,
    {{ std_code_system('dg1.coding_system') }} as code_system,
    {{ clean('dg1.name') }} as diagnosis_name,
    -- DG1-6 (HL7 table 0052): A admitting, W working, F final; the first final one is the primary
    case when dg1.set_id = '1' then 'primary' else 'secondary' end as diagnosis_type,
    {{ hl7_ts_to_utc('dg1.diagnosis_time') }} as diagnosis_time,
    message_control_id,
    {{ lineage_columns() }}
from exploded
