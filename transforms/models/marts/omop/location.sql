-- OMOP LOCATION at administrative-division level (6-digit region code): addresses stay in silver
-- (privacy); location_id is the region code as a number.
select distinct
    cast(region_code as bigint) as location_id,
    cast(null as string) as address_1,
    cast(null as string) as address_2,
    cast(null as string) as city,
    cast(null as string) as state,
    cast(null as string) as zip,
    region_code as county,
    region_code as location_source_value,
    0 as country_concept_id,
    'CN' as country_source_value,
    cast(null as double) as latitude,
    cast(null as double) as longitude
from (
    select region_code from {{ ref('int_patients') }} where region_code rlike '^[0-9]{6}$'
    union
    select cast(region_code as string) from {{ ref('source_organisations') }} where region_code is not null
)
