-- MIMIC-III demo 1.4 (sample_mimic3): PRESCRIPTIONS as prescriptions (drug_code: the local formulary code). Times are MIMIC's shifted (~2100-2200) wall-clock times, kept as given and read as UTC.
{{ stg_canonical(date_format='yyyy-MM-dd HH:mm:ss', datetime_format='yyyy-MM-dd HH:mm:ss', missing=['frequency', 'quantity', 'doctor_code']) }}
