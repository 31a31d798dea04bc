-- OMOP VISIT_OCCURRENCE from silver encounters. Datetimes in UTC; dates are the local calendar
-- day in the source's zone (vars source_timezone, source_timezones). A visit without discharge ends on its start date; a discharge
-- recorded before the admission (a source defect) is clamped to the start.
with encounters as (
    select e.*, m.person_id, o.organization_code
    from {{ ref('int_encounters') }} e
    join {{ source('mpi', 'mpi_person_map') }} m
        on m.source_id = e.source_id and m.patient_source_id = e.patient_source_id
    join {{ ref('source_organisations') }} o on o.source_id = e.source_id
),

timed as (
    select *,
        coalesce(admit_time, updated_at, cast(_extract_date as timestamp)) as start_ts,
        greatest(coalesce(discharge_time, admit_time, updated_at), coalesce(admit_time, updated_at)) as end_ts
    from encounters
)

select
    {{ surrogate_id(["t.source_id", "t.encounter_source_id"]) }} as visit_occurrence_id,
    t.person_id,
    case t.visit_type when 'inpatient' then 9201 when 'outpatient' then 9202 when 'emergency' then 9203 else 0 end as visit_concept_id,
    to_date(from_utc_timestamp(t.start_ts, {{ source_tz("t.source_id") }})) as visit_start_date,
    t.start_ts as visit_start_datetime,
    to_date(from_utc_timestamp(coalesce(t.end_ts, t.start_ts), {{ source_tz("t.source_id") }})) as visit_end_date,
    t.end_ts as visit_end_datetime,
    32817 as visit_type_concept_id,
    pr.master_provider_id as provider_id,
    cs.master_care_site_id as care_site_id,
    t.visit_type_source_value as visit_source_value,
    0 as visit_source_concept_id,
    0 as admitted_from_concept_id,
    cast(null as string) as admitted_from_source_value,
    0 as discharged_to_concept_id,
    t.discharge_status as discharged_to_source_value,
    cast(null as bigint) as preceding_visit_occurrence_id,
    t.source_id as _source_id, t._source_file, t._row_number
from timed t
left join {{ ref('md_provider_xref') }} pr
    on pr.organization_code = t.organization_code and pr.doctor_code = t.doctor_code
left join {{ ref('md_care_site_xref') }} cs
    on cs.organization_code = t.organization_code and cs.department_code = t.department_code
