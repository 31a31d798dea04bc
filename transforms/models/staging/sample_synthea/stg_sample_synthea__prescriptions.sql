-- Synthea 3.0 CSV export (sample_synthea): medications.csv (RxNorm) as prescriptions; no record id: the key is a hash of the whole row. Times are ISO 8601 UTC ('Z'); dates as written.
{{ stg_canonical(date_format='yyyy-MM-dd', datetime_format=none, table='medications', missing=['dose', 'dose_unit', 'route', 'frequency', 'doctor_code'], columns={
    'prescription_source_id': record_key(['start', 'stop', 'patient', 'payer', 'encounter', 'code', 'description', 'base_cost',
                                         'payer_coverage', 'dispenses', 'totalcost', 'reasoncode', 'reasondescription']),
    'encounter_source_id': 'encounter', 'patient_source_id': 'patient', 'drug_code': 'code', 'drug_name': 'description',
    'quantity': 'dispenses', 'start_time': 'start', 'end_time': 'stop'}) }}
