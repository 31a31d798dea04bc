-- MPI input (contract with carelake.mpi): one row per source patient, exactly these columns.
{{ config(materialized='table') }}

select
    source_id,
    patient_source_id,
    id_number,
    name,
    sex,
    birth_date,
    phone,
    nullif(regexp_replace(address, '\\s*[\\r\\n]+\\s*', ''), '') as address,
    region_code,
    updated_at
from {{ ref('int_patients') }}
