-- OMOP OBSERVATION: facts about a person without a better domain. Today: 民族 (ethnic group) as
-- recorded by h02_dongcheng, concept 2000400001 (seed local_concepts), the value as a string.
with patients as (
    select p.*, m.person_id
    from {{ ref('int_patients') }} p
    join {{ source('mpi', 'mpi_person_map') }} m
        on m.source_id = p.source_id and m.patient_source_id = p.patient_source_id
    where p.ethnicity is not null
)

select
    {{ surrogate_id(["source_id", "patient_source_id", "'ethnicity'"]) }} as observation_id,
    person_id,
    2000400001 as observation_concept_id,
    to_date(from_utc_timestamp(coalesce(updated_at, cast(_extract_date as timestamp)), {{ source_tz("source_id") }})) as observation_date,
    updated_at as observation_datetime,
    32817 as observation_type_concept_id,
    cast(null as double) as value_as_number,
    ethnicity as value_as_string,
    0 as value_as_concept_id,
    0 as qualifier_concept_id,
    0 as unit_concept_id,
    cast(null as bigint) as provider_id,
    cast(null as bigint) as visit_occurrence_id,
    cast(null as bigint) as visit_detail_id,
    'ethnicity' as observation_source_value,
    0 as observation_source_concept_id,
    cast(null as string) as unit_source_value,
    cast(null as string) as qualifier_source_value,
    ethnicity as value_source_value,
    cast(null as bigint) as observation_event_id,
    0 as obs_event_field_concept_id,
    source_id as _source_id, _source_file, _row_number
from patients
