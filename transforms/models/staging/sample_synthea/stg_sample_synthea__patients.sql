-- Synthea 3.0 CSV export (sample_synthea): patients.csv as patients; name = FIRST LAST, address = street, city, state, zip; SSN is not a resident ID (kept in bronze only). Times are ISO 8601 UTC ('Z'); dates as written.
{{ stg_canonical(date_format='yyyy-MM-dd', datetime_format=none, missing=['id_number', 'phone', 'region_code', 'insurance_no', 'updated_at'],
    columns={'name': "concat_ws(' ', `first`, `last`)", 'address': "concat_ws(', ', address, city, state, zip)"}) }}
