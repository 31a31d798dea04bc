-- OMOP MEASUREMENT from silver lab results: LOINC (local codes via seed map_local_lab_codes) to
-- measurement_concept_id (seed map_loinc_measurement), unit to unit_concept_id (seed map_units); 0 when unmapped.
with labs as (
    select l.*, m.person_id
    from {{ ref('int_lab_results__mapped') }} l
    join {{ source('mpi', 'mpi_person_map') }} m
        on m.source_id = l.source_id and m.patient_source_id = l.patient_source_id
),

timed as (
    select *, coalesce(specimen_time, result_time, cast(_extract_date as timestamp)) as measured_at
    from labs
)

select
    {{ surrogate_id(["l.source_id", "l.lab_result_source_id"]) }} as measurement_id,
    l.person_id,
    l.measurement_concept_id,
    to_date(from_utc_timestamp(l.measured_at, {{ source_tz("l.source_id") }})) as measurement_date,
    l.measured_at as measurement_datetime,
    date_format(from_utc_timestamp(l.measured_at, {{ source_tz("l.source_id") }}), 'HH:mm:ss') as measurement_time,
    32856 as measurement_type_concept_id,
    0 as operator_concept_id,
    l.value_as_number,
    0 as value_as_concept_id,
    l.unit_concept_id,
    l.range_low,
    l.range_high,
    v.provider_id,
    v.visit_occurrence_id,
    cast(null as bigint) as visit_detail_id,
    l.lab_code as measurement_source_value,
    0 as measurement_source_concept_id,
    l.unit as unit_source_value,
    0 as unit_source_concept_id,
    l.value_source_value,
    cast(null as bigint) as measurement_event_id,
    0 as meas_event_field_concept_id,
    l.abnormal_flag,
    l.source_id as _source_id, l._source_file, l._row_number
from timed l
left join {{ ref('visit_occurrence') }} v
    on v.visit_occurrence_id = {{ surrogate_id(["l.source_id", "l.encounter_source_id"]) }}
