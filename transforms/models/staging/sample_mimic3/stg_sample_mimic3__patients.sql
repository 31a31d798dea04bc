-- MIMIC-III demo 1.4 (sample_mimic3): PATIENTS as patients (only subject_id, gender, dob, dod: no name or address). Times are MIMIC's shifted (~2100-2200) wall-clock times, kept as given and read as UTC.
{{ stg_canonical(date_format='yyyy-MM-dd HH:mm:ss', datetime_format='yyyy-MM-dd HH:mm:ss', missing=['id_number', 'name', 'phone', 'address', 'region_code', 'insurance_no', 'updated_at']) }}
