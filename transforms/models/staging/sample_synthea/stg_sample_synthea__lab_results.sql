-- Synthea 3.0 CSV export (sample_synthea): observations.csv (LOINC: vitals, labs, survey answers) as lab results; no record id: the key is a hash of the whole row. Times are ISO 8601 UTC ('Z'); dates as written.
{{ stg_canonical(date_format='yyyy-MM-dd', datetime_format=none, table='observations', missing=['reference_range', 'abnormal_flag', 'result_time'], columns={
    'lab_result_source_id': record_key(['date', 'patient', 'encounter', 'category', 'code', 'description', 'value', 'units', 'type']),
    'encounter_source_id': 'encounter', 'patient_source_id': 'patient', 'lab_code': 'code', 'lab_name': 'description',
    'unit': 'units', 'specimen_time': 'date'}) }}
