-- OMOP PROVIDER: the golden providers (marts/master_data/md_providers).
select
    p.master_provider_id as provider_id,
    p.provider_name,
    cast(null as string) as npi,
    cast(null as string) as dea,
    0 as specialty_concept_id,
    x.master_care_site_id as care_site_id,
    cast(null as int) as year_of_birth,
    case p.sex when 'M' then 8507 when 'F' then 8532 else 0 end as gender_concept_id,
    p.master_key as provider_source_value,
    p.specialty as specialty_source_value,
    0 as specialty_source_concept_id,
    p.sex as gender_source_value,
    0 as gender_source_concept_id
from {{ ref('md_providers') }} p
left join (
    select organization_code, department_code, max(master_care_site_id) as master_care_site_id
    from {{ ref('md_care_site_xref') }} group by organization_code, department_code
) x on x.organization_code = p.organization_code and x.department_code = p.department_code
