-- OMOP NOTE from the de-identified notes (silver.deid_notes, carelake.privacy.deidentify_step): note_text is
-- redacted (<CN_PERSON>, <CN_RESIDENT_ID>, ...), note_datetime in UTC (shifted per person when the policy
-- shifts dates). note_type_concept_id 32817 = EHR; class, encoding and language are not coded (0).
with notes as (
    select n.*, o.organization_code
    from {{ source('privacy', 'deid_notes') }} n
    join {{ ref('source_organisations') }} o on o.source_id = n.source_id
)

select
    {{ surrogate_id(["n.source_id", "n.note_source_id"]) }} as note_id,
    n.person_id,
    to_date(from_utc_timestamp(n.note_time, {{ source_tz("n.source_id") }})) as note_date,
    n.note_time as note_datetime,
    32817 as note_type_concept_id,
    0 as note_class_concept_id,
    n.note_title,
    n.note_text,
    0 as encoding_concept_id,
    0 as language_concept_id,
    pr.master_provider_id as provider_id,
    v.visit_occurrence_id,
    cast(null as bigint) as visit_detail_id,
    n.note_type as note_source_value,
    cast(null as bigint) as note_event_id,
    cast(null as int) as note_event_field_concept_id,
    n.source_id as _source_id, n._source_file, n._row_number
from notes n
left join {{ ref('md_provider_xref') }} pr
    on pr.organization_code = n.organization_code and pr.doctor_code = n.doctor_code
left join {{ ref('visit_occurrence') }} v
    on v.visit_occurrence_id = {{ surrogate_id(["n.source_id", "n.encounter_source_id"]) }}
where n.note_time is not null
    and n.person_id in (select person_id from {{ ref('person') }})
