-- OMOP OBSERVATION_PERIOD: one per person, from the first to the last recorded event
-- (visits, conditions, drugs, measurements, procedures). observation_period_id = person_id.
with events as (
    select person_id, visit_start_date as start_date, visit_end_date as end_date from {{ ref('visit_occurrence') }}
    union all
    select person_id, condition_start_date, condition_start_date from {{ ref('condition_occurrence') }}
    union all
    select person_id, drug_exposure_start_date, drug_exposure_end_date from {{ ref('drug_exposure') }}
    union all
    select person_id, measurement_date, measurement_date from {{ ref('measurement') }}
    union all
    select person_id, procedure_date, coalesce(procedure_end_date, procedure_date) from {{ ref('procedure_occurrence') }}
)

select
    e.person_id as observation_period_id,
    e.person_id,
    min(e.start_date) as observation_period_start_date,
    max(greatest(e.start_date, e.end_date)) as observation_period_end_date,
    32817 as period_type_concept_id
from events e
join {{ ref('person') }} p on p.person_id = e.person_id
group by e.person_id
