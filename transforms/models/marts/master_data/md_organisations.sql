-- Golden organisations: one per organisation code (seed source_organisations mirrors metadata/sources.yml).
-- Survivorship: the name of the alphabetically first source of the organisation (sources of one
-- organisation share its name); region likewise.
select
    {{ surrogate_id(["organization_code"]) }} as master_organisation_id,
    organization_code,
    min_by(organization_name, source_id) as organization_name,
    min_by(organization_kind, source_id) as organization_kind,
    cast(min_by(region_code, source_id) as string) as region_code,
    count(*) as source_count
from {{ ref('source_organisations') }}
group by organization_code
