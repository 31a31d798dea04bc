-- MIMIC-III demo 1.4 (sample_mimic3): DIAGNOSES_ICD (ICD-9-CM without the dot) as diagnoses; seq_num 1 is the primary diagnosis. Times are MIMIC's shifted (~2100-2200) wall-clock times, kept as given and read as UTC.
{{ stg_canonical(date_format='yyyy-MM-dd HH:mm:ss', datetime_format='yyyy-MM-dd HH:mm:ss', missing=['diagnosis_name', 'diagnosis_time'], columns={
    'code_system': "'ICD9CM'", 'diagnosis_type': "case when trim(seq_num) = '1' then 'primary' else 'secondary' end"}) }}
