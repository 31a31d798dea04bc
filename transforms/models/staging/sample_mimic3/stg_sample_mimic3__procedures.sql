-- MIMIC-III demo 1.4 (sample_mimic3): PROCEDURES_ICD (ICD-9 procedure codes, no time: the admission's). Times are MIMIC's shifted (~2100-2200) wall-clock times, kept as given and read as UTC.
{{ stg_canonical(date_format='yyyy-MM-dd HH:mm:ss', datetime_format='yyyy-MM-dd HH:mm:ss', table='procedures_icd', missing=['procedure_name', 'procedure_time', 'procedure_end_time'], columns={
    'procedure_source_id': 'row_id', 'encounter_source_id': 'hadm_id', 'patient_source_id': 'subject_id',
    'procedure_code': 'icd9_code', 'code_system': "'ICD9Proc'"}) }}
