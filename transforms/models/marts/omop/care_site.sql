-- OMOP CARE_SITE: the golden departments (marts/master_data/md_care_sites).
select
    c.master_care_site_id as care_site_id,
    concat(o.organization_name, ' ', c.care_site_name) as care_site_name,
    0 as place_of_service_concept_id,
    cast(o.region_code as bigint) as location_id,
    concat(c.organization_code, ':', c.care_site_name) as care_site_source_value,
    c.department_type as place_of_service_source_value
from {{ ref('md_care_sites') }} c
join {{ ref('md_organisations') }} o on o.organization_code = c.organization_code
