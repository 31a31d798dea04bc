-- MIMIC-III demo 1.4 (sample_mimic3): CAREGIVERS as doctors (every care provider; label = role, e.g. MD, RN). Times are MIMIC's shifted (~2100-2200) wall-clock times, kept as given and read as UTC.
{{ stg_canonical(date_format='yyyy-MM-dd HH:mm:ss', datetime_format='yyyy-MM-dd HH:mm:ss', missing=['name', 'sex', 'department_code', 'specialty', 'license_no', 'phone']) }}
