-- Golden providers. Matching rule: the national practising licence number (license_no) identifies
-- a doctor across hospitals; without one, the source record stands alone.
-- Survivorship: each attribute from the latest-ingested record that has a value.
with doctors as (
    select d.*, o.organization_code,
        {{ provider_master_key('d') }} as master_key
    from {{ ref('int_doctors') }} d
    join {{ ref('source_organisations') }} o on o.source_id = d.source_id
)

select
    {{ surrogate_id(["master_key"]) }} as master_provider_id,
    master_key,
    max(license_no) as license_no,
    max_by(name, _ingested_at) filter (where name is not null) as provider_name,
    max_by(sex, _ingested_at) filter (where sex <> 'U') as sex,
    max_by(title, _ingested_at) filter (where title is not null) as title,
    max_by(specialty, _ingested_at) filter (where specialty is not null) as specialty,
    max_by(organization_code, _ingested_at) as organization_code,
    max_by(department_code, _ingested_at) filter (where department_code is not null) as department_code,
    count(*) as source_record_count
from doctors
group by master_key
