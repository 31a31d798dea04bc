-- MIMIC-III demo 1.4 (sample_mimic3): ADMISSIONS as encounters (admission_type: ELECTIVE / URGENT / NEWBORN inpatient, EMERGENCY emergency). Times are MIMIC's shifted (~2100-2200) wall-clock times, kept as given and read as UTC.
{{ stg_canonical(date_format='yyyy-MM-dd HH:mm:ss', datetime_format='yyyy-MM-dd HH:mm:ss', missing=['department_code', 'doctor_code', 'updated_at']) }}
