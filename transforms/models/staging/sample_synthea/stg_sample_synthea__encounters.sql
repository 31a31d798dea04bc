-- Synthea 3.0 CSV export (sample_synthea): encounters.csv as encounters; the ORGANIZATION is the care site (department_code), PROVIDER the doctor. Times are ISO 8601 UTC ('Z'); dates as written.
{{ stg_canonical(date_format='yyyy-MM-dd', datetime_format=none, missing=['discharge_status', 'updated_at'], columns={'department_code': 'organization'}) }}
