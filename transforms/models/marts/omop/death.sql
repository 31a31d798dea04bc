-- OMOP DEATH: one row per person with a recorded death date (the earliest one recorded).
with deaths as (
    select m.person_id, p.death_date, p.source_id, p._source_file, p._row_number
    from {{ ref('int_patients') }} p
    join {{ source('mpi', 'mpi_person_map') }} m
        on m.source_id = p.source_id and m.patient_source_id = p.patient_source_id
    where p.death_date is not null
)

select
    d.person_id,
    min(d.death_date) as death_date,
    cast(min(d.death_date) as timestamp) as death_datetime,
    32817 as death_type_concept_id,
    0 as cause_concept_id,
    cast(null as string) as cause_source_value,
    0 as cause_source_concept_id,
    min_by(d.source_id, d.death_date) as _source_id,
    min_by(d._source_file, d.death_date) as _source_file,
    min_by(d._row_number, d.death_date) as _row_number
from deaths d
join {{ ref('person') }} p on p.person_id = d.person_id
group by d.person_id
