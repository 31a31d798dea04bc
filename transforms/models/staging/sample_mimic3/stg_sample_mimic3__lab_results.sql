-- MIMIC-III demo 1.4 (sample_mimic3): OUTPUTEVENTS (ICU output volumes by itemid; this copy has no LABEVENTS) as measurements. Times are MIMIC's shifted (~2100-2200) wall-clock times, kept as given and read as UTC.
{{ stg_canonical(date_format='yyyy-MM-dd HH:mm:ss', datetime_format='yyyy-MM-dd HH:mm:ss', table='outputevents', missing=['lab_name', 'reference_range', 'abnormal_flag', 'result_time'], columns={
    'lab_result_source_id': 'row_id', 'encounter_source_id': 'hadm_id', 'patient_source_id': 'subject_id', 'lab_code': 'itemid',
    'unit': 'valueuom', 'specimen_time': 'charttime'}) }}
