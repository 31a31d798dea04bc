-- Golden departments (care sites): one per organisation and standard department name.
-- Matching rule: names are standardised to the Chinese catalogue name (seed map_departments maps
-- English names); two sources of one organisation naming the same department are one care site.
-- Survivorship: department_type from the latest-ingested record that has one.
with departments as (
    select d.*, o.organization_code,
        coalesce(m.department_name_zh, d.department_name) as standard_name
    from {{ ref('int_departments') }} d
    join {{ ref('source_organisations') }} o on o.source_id = d.source_id
    left join {{ ref('map_departments') }} m
        on lower(m.department_name_en) = lower(d.department_name) or m.department_name_zh = d.department_name
)

select
    {{ surrogate_id(["organization_code", "standard_name"]) }} as master_care_site_id,
    organization_code,
    standard_name as care_site_name,
    max_by(department_type, _ingested_at) filter (where department_type is not null) as department_type,
    count(*) as source_record_count,
    max(_ingested_at) as last_seen_at
from departments
group by organization_code, standard_name
