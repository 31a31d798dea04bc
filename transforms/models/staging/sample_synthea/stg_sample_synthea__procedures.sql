-- Synthea 3.0 CSV export (sample_synthea): procedures.csv (SNOMED CT); no record id: the key is a hash of the whole row. Times are ISO 8601 UTC ('Z'); dates as written.
{{ stg_canonical(date_format='yyyy-MM-dd', datetime_format=none, columns={
    'procedure_source_id': record_key(['start', 'stop', 'patient', 'encounter', 'code', 'description', 'base_cost', 'reasoncode', 'reasondescription']),
    'encounter_source_id': 'encounter', 'patient_source_id': 'patient', 'procedure_code': 'code', 'code_system': "'SNOMED'",
    'procedure_name': 'description', 'procedure_time': 'start', 'procedure_end_time': 'stop'}) }}
