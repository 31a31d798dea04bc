-- Synthea 3.0 CSV export (sample_synthea): conditions.csv (SNOMED CT) as diagnoses; no record id: the key is a hash of the whole row. Times are ISO 8601 UTC ('Z'); dates as written.
{{ stg_canonical(date_format='yyyy-MM-dd', datetime_format=none, table='conditions', missing=['diagnosis_type'], columns={
    'diagnosis_source_id': record_key(['start', 'stop', 'patient', 'encounter', 'code', 'description']),
    'encounter_source_id': 'encounter', 'patient_source_id': 'patient', 'diagnosis_code': 'code', 'code_system': "'SNOMED'",
    'diagnosis_name': 'description', 'diagnosis_time': 'start'}) }}
