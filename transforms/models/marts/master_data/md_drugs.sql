-- Golden drugs: the regional drug catalogue (seed map_drugs, edited by governance). Every hospital
-- code '<org>-YP####' refers to catalogue key YP####.
select
    {{ surrogate_id(["drug_key"]) }} as master_drug_id,
    drug_key,
    drug_name_en,
    drug_name_zh,
    dose as standard_dose,
    dose_unit as standard_dose_unit,
    route as standard_route,
    target_concept_id as drug_concept_id
from {{ ref('map_drugs') }}
