-- Source doctor code -> master provider (keyed by organisation too, see md_care_site_xref).
select
    d.source_id,
    o.organization_code,
    d.doctor_code,
    {{ surrogate_id([provider_master_key('d')]) }} as master_provider_id,
    case when d.license_no is not null then 'license_no' else 'source_key' end as match_rule,
    d._source_file, d._row_number
from {{ ref('int_doctors') }} d
join {{ ref('source_organisations') }} o on o.source_id = d.source_id
