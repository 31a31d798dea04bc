-- Synthea 3.0 CSV export (sample_synthea): organizations.csv as care sites (departments) of the Synthea source. Times are ISO 8601 UTC ('Z'); dates as written.
{{ stg_canonical(date_format='yyyy-MM-dd', datetime_format=none, table='organizations', missing=['department_type', 'parent_code'],
    columns={'department_code': 'id', 'department_name': 'name'}) }}
