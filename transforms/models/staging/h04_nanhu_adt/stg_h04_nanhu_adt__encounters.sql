-- Visits from ADT events (A01 admit, A04 register, A03 discharge): one row per message.
-- ORU results carry PV1 too but are not visit events; A03 carries the discharge time.
with messages as (
    select * from {{ ref('stg_h04_nanhu_adt__messages') }}
    where message_type in ('ADT^A01', 'ADT^A03', 'ADT^A04') and encounter_source_id is not null
)

select
    source_id,
    encounter_source_id,
    patient_source_id,
    visit_type,
    visit_class as visit_type_source_value,
    admit_time,
    discharge_time,
    department_code,
    doctor_code,
    case when trigger_event = 'A03' then 'home' end as discharge_status,
    message_time as updated_at,
    message_control_id,
    message_type,
    {{ lineage_columns() }}
from messages
