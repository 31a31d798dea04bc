-- Source system -> master organisation.
select o.source_id, m.master_organisation_id, o.organization_code
from {{ ref('source_organisations') }} o
join {{ ref('md_organisations') }} m on m.organization_code = o.organization_code
