-- Synthea 3.0 CSV export (sample_synthea): providers.csv as doctors; the ORGANIZATION is their care site. Times are ISO 8601 UTC ('Z'); dates as written.
{{ stg_canonical(date_format='yyyy-MM-dd', datetime_format=none, missing=['title', 'license_no', 'phone'], columns={'department_code': 'organization'}) }}
