-- Source drug code -> master drug (null master id: the code is not in the catalogue).
select
    p.source_id,
    p.drug_code,
    max(p.drug_name) as source_drug_name,
    max(m.master_drug_id) as master_drug_id,
    case when max(m.master_drug_id) is not null then 'catalogue key' else 'unmatched' end as match_rule,
    count(*) as prescription_count
from {{ ref('int_prescriptions__mapped') }} p
left join {{ ref('md_drugs') }} m on m.drug_key = p.drug_key
group by p.source_id, p.drug_code
