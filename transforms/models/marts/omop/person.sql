-- OMOP PERSON: one row per person of silver.mpi_person_map.
-- Survivorship across a person's source records: sex = latest record not 'U'; birth date = latest
-- recorded, else the date of birth inside the 18-digit resident ID; location = latest region code.
-- Persons with no birth year at all are left out (year_of_birth is required; OHDSI convention).
-- De-identified (metadata/privacy/deidentification.yml): person_source_value is the person's keyed
-- pseudonym (silver.deid_person_pseudonyms, never the MRN); birth is generalised to the year.
with linked as (
    select p.*, m.person_id,
        coalesce(p.updated_at, p._ingested_at) as recency
    from {{ ref('int_patients') }} p
    join {{ source('mpi', 'mpi_person_map') }} m
        on m.source_id = p.source_id and m.patient_source_id = p.patient_source_id
),

folded as (
    select
        person_id,
        coalesce(max_by(sex, recency) filter (where sex <> 'U'), 'U') as sex,
        coalesce(
            max_by(birth_date, recency) filter (where birth_date is not null),
            max_by(to_date(try_to_timestamp(substr(id_number, 7, 8), 'yyyyMMdd')), recency) filter (where length(id_number) = 18)
        ) as birth_date,
        max_by(region_code, recency) filter (where region_code rlike '^[0-9]{6}$') as region_code,
        max_by(ethnicity, recency) filter (where ethnicity is not null) as ethnicity,
        max_by(source_id, recency) as _source_id,
        max_by(_source_file, recency) as _source_file,
        max_by(_row_number, recency) as _row_number
    from linked
    group by person_id
)

select
    person_id,
    case sex when 'M' then 8507 when 'F' then 8532 else 0 end as gender_concept_id,
    year(birth_date) as year_of_birth,
    cast(null as int) as month_of_birth,
    cast(null as int) as day_of_birth,
    cast(null as timestamp) as birth_datetime,
    0 as race_concept_id,
    0 as ethnicity_concept_id,
    cast(region_code as bigint) as location_id,
    cast(null as bigint) as provider_id,
    cast(null as bigint) as care_site_id,
    ps.person_pseudonym as person_source_value,
    sex as gender_source_value,
    0 as gender_source_concept_id,
    cast(null as string) as race_source_value,
    0 as race_source_concept_id,
    ethnicity as ethnicity_source_value,
    0 as ethnicity_source_concept_id,
    _source_id, _source_file, _row_number
from folded
join {{ source('privacy', 'deid_person_pseudonyms') }} ps using (person_id)
where birth_date is not null
