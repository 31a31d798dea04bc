-- Source department code -> master care site. Keyed by organisation as well as source, because
-- one organisation's feeds share codes (h04_nanhu_adt visits use h04_nanhu_his department codes).
select
    d.source_id,
    o.organization_code,
    d.department_code,
    m.master_care_site_id,
    'organisation + standard name' as match_rule,
    d._source_file, d._row_number
from {{ ref('int_departments') }} d
join {{ ref('source_organisations') }} o on o.source_id = d.source_id
left join {{ ref('map_departments') }} md
    on lower(md.department_name_en) = lower(d.department_name) or md.department_name_zh = d.department_name
join {{ ref('md_care_sites') }} m
    on m.organization_code = o.organization_code and m.care_site_name = coalesce(md.department_name_zh, d.department_name)
