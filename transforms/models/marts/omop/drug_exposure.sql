-- OMOP DRUG_EXPOSURE from silver prescriptions (drug_concept_id from seed map_drugs; 0 when unmapped).
-- HIS pharmacy orders (h04_nanhu_his) belong to the visits of the ADT feed of the same hospital.
with prescriptions as (
    select p.*, m.person_id, o.organization_code
    from {{ ref('int_prescriptions__mapped') }} p
    join {{ ref('source_organisations') }} o on o.source_id = p.source_id
    join {{ ref('source_organisations') }} patient_source
        on patient_source.organization_code = o.organization_code
    join {{ source('mpi', 'mpi_person_map') }} m
        on m.source_id = patient_source.source_id and m.patient_source_id = p.patient_source_id
),

visits as (
    select e.source_id, e.encounter_source_id, o.organization_code
    from {{ ref('int_encounters') }} e
    join {{ ref('source_organisations') }} o on o.source_id = e.source_id
)

select
    {{ surrogate_id(["p.source_id", "p.prescription_source_id"]) }} as drug_exposure_id,
    p.person_id,
    p.drug_concept_id,
    to_date(from_utc_timestamp(coalesce(p.start_time, cast(p._extract_date as timestamp)), {{ source_tz("p.source_id") }})) as drug_exposure_start_date,
    p.start_time as drug_exposure_start_datetime,
    to_date(from_utc_timestamp(coalesce(greatest(p.end_time, p.start_time), p.start_time, cast(p._extract_date as timestamp)), {{ source_tz("p.source_id") }})) as drug_exposure_end_date,
    p.end_time as drug_exposure_end_datetime,
    to_date(from_utc_timestamp(p.end_time, {{ source_tz("p.source_id") }})) as verbatim_end_date,
    32838 as drug_type_concept_id,
    cast(null as string) as stop_reason,
    cast(null as int) as refills,
    p.quantity,
    datediff(p.end_time, p.start_time) as days_supply,
    concat_ws(' ', cast(p.dose as string), p.dose_unit, p.route, p.frequency) as sig,
    p.route_concept_id,
    cast(null as string) as lot_number,
    pr.master_provider_id as provider_id,
    {{ surrogate_id(["v.source_id", "v.encounter_source_id"]) }} as visit_occurrence_id,
    cast(null as bigint) as visit_detail_id,
    p.drug_code as drug_source_value,
    0 as drug_source_concept_id,
    p.route as route_source_value,
    p.dose_unit as dose_unit_source_value,
    p.source_id as _source_id, p._source_file, p._row_number
from prescriptions p
left join visits v
    on v.organization_code = p.organization_code and v.encounter_source_id = p.encounter_source_id
left join {{ ref('md_provider_xref') }} pr
    on pr.organization_code = p.organization_code and pr.doctor_code = p.doctor_code
