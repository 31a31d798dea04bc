{#- The canonical silver columns per entity, which staged sources deliver it, its key, and how each
    column is staged from a canonical bronze table (macros/stg_canonical.sql): [column, rule], where
    rule is `kind` or `kind:bronze_column` (the bronze column defaults to the silver column's name).
    Hand-staged sources (HL7: models/staging/h04_nanhu_adt/) deliver the same columns. imaging_instances: one row per
    DICOM file (PACS sources, format dicom), keyed by the SOP Instance UID.
    Adding a source = adding its id here (and its staging models), or registering it only: `carelake transform`
    generates the staging models of registered sources that have none and passes their ids as var `onboarded_sources`. -#}
{% macro entity_spec(entity) -%}
    {%- set specs = {
        "patients": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_adt", "sample_synthea", "sample_mimic3"],
            "key": ["source_id", "patient_source_id"], "updated_at": true,
            "staging": [["patient_source_id", "ref"], ["id_number", "id_number"], ["id_number_source_value", "text:id_number"],
                        ["name", "text"], ["sex", "sex"], ["sex_source_value", "text:sex"], ["birth_date", "date"],
                        ["phone", "phone"], ["address", "text"], ["region_code", "text"], ["insurance_no", "text"],
                        ["death_date", "date"], ["ethnicity", "extra"], ["updated_at", "ts"]]},
        "encounters": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_adt", "sample_synthea", "sample_mimic3"],
            "key": ["source_id", "encounter_source_id"], "updated_at": true,
            "staging": [["encounter_source_id", "ref"], ["patient_source_id", "ref"], ["visit_type", "visit_type"],
                        ["visit_type_source_value", "text:visit_type"], ["admit_time", "ts"], ["discharge_time", "ts"],
                        ["department_code", "ref"], ["doctor_code", "ref"], ["discharge_status", "discharge_status"],
                        ["updated_at", "ts"]]},
        "diagnoses": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_adt", "sample_synthea", "sample_mimic3"],
            "key": ["source_id", "diagnosis_source_id"], "updated_at": false,
            "staging": [["diagnosis_source_id", "text"], ["encounter_source_id", "ref"], ["patient_source_id", "ref"],
                        ["diagnosis_code", "upper"], ["code_system", "code_system"], ["diagnosis_name", "text"],
                        ["diagnosis_type", "diagnosis_type"], ["diagnosis_time", "ts"]]},
        "prescriptions": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_his", "sample_synthea", "sample_mimic3"],
            "key": ["source_id", "prescription_source_id"], "updated_at": false,
            "staging": [["prescription_source_id", "text"], ["encounter_source_id", "ref"], ["patient_source_id", "ref"],
                        ["drug_code", "upper"], ["drug_name", "text"], ["dose", "num"], ["dose_unit", "text"],
                        ["route", "lower"], ["frequency", "lower"], ["quantity", "num"], ["start_time", "ts"],
                        ["end_time", "ts"], ["doctor_code", "ref"]]},
        "lab_results": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_adt", "sample_synthea", "sample_mimic3"],
            "key": ["source_id", "lab_result_source_id"], "updated_at": false,
            "staging": [["lab_result_source_id", "text"], ["encounter_source_id", "ref"], ["patient_source_id", "ref"],
                        ["lab_code", "upper"], ["lab_name", "text"], ["value_source_value", "text:value"],
                        ["value_as_number", "num:value"], ["unit", "unit"], ["reference_range", "text"],
                        ["range_low", "range_low:reference_range"], ["range_high", "range_high:reference_range"],
                        ["abnormal_flag", "abnormal_flag"], ["specimen_time", "ts"], ["result_time", "ts"]]},
        "procedures": {
            "sources": ["sample_synthea", "sample_mimic3"],
            "key": ["source_id", "procedure_source_id"], "updated_at": false,
            "staging": [["procedure_source_id", "text"], ["encounter_source_id", "ref"], ["patient_source_id", "ref"],
                        ["procedure_code", "upper"], ["code_system", "code_system"], ["procedure_name", "text"],
                        ["procedure_time", "ts"], ["procedure_end_time", "ts"]]},
        "doctors": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_his", "sample_synthea", "sample_mimic3"],
            "key": ["source_id", "doctor_code"], "updated_at": false,
            "staging": [["doctor_code", "ref"], ["name", "text"], ["sex", "sex"], ["title", "text"],
                        ["department_code", "ref"], ["specialty", "text"], ["license_no", "text"], ["phone", "phone"]]},
        "departments": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_his", "sample_synthea"],
            "key": ["source_id", "department_code"], "updated_at": false,
            "staging": [["department_code", "ref"], ["department_name", "text"], ["department_type", "department_type"],
                        ["department_type_source_value", "text:department_type"], ["parent_code", "ref"]]},
        "notes": {
            "sources": ["h01_riverside", "h02_dongcheng"],
            "key": ["source_id", "note_source_id"], "updated_at": false,
            "staging": [["note_source_id", "text"], ["encounter_source_id", "ref"], ["patient_source_id", "ref"],
                        ["note_time", "ts"], ["note_type", "text"], ["note_title", "text"], ["note_text", "text"],
                        ["doctor_code", "ref"], ["comment", "text"]]},
        "devices": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_his"],
            "key": ["source_id", "device_code"], "updated_at": false,
            "staging": [["device_code", "text"], ["device_name", "text"], ["device_type", "text"], ["manufacturer", "text"],
                        ["model", "text"], ["serial_no", "upper"], ["department_code", "ref"], ["install_date", "date"]]},
        "imaging_instances": {
            "sources": ["h01_riverside_pacs", "h02_dongcheng_pacs", "h04_nanhu_pacs", "sample_pydicom"],
            "key": ["source_id", "sop_instance_uid"], "updated_at": false,
            "staging": [["sop_instance_uid", "text"], ["sop_class_uid", "text"], ["study_instance_uid", "text"],
                        ["series_instance_uid", "text"], ["study_id", "text"], ["accession_number", "text"],
                        ["modality", "upper"], ["body_part", "upper"], ["study_date", "dicom_date"],
                        ["study_datetime", "dicom_ts:study_date"], ["series_datetime", "dicom_ts:series_date"],
                        ["study_description", "text"], ["series_number", "int"], ["series_description", "text"],
                        ["instance_number", "int"], ["referring_physician_name", "text"], ["institution_name", "text"],
                        ["manufacturer", "text"], ["station_name", "text"], ["patient_source_id", "text"],
                        ["patient_name", "text"], ["birth_date", "dicom_date"], ["sex", "sex"],
                        ["specific_character_set", "text"], ["transfer_syntax_uid", "text"]]},
    } -%}
    {%- set spec = specs[entity] -%}
    {%- do spec.update({"columns": spec["staging"] | map(attribute=0) | list}) -%}
    {{ return(spec) }}
{%- endmacro %}

{#- union all of one entity's staging models, canonical columns + lineage -#}
{% macro union_staging(entity) -%}
    {%- set spec = entity_spec(entity) -%}
    {#- sources onboarded by configuration only (carelake passes their ids; their staging models are generated) -#}
    {%- for source_id in spec["sources"] + var("onboarded_sources", {}).get(entity, []) %}
    select source_id, {{ spec["columns"] | join(", ") }}, {{ lineage_columns() }}
    from {{ ref("stg_" ~ source_id ~ "__" ~ entity) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- the whole intermediate model of an append-daily entity: union, then dedupe (incremental-safe) -#}
{% macro int_entity(entity) -%}
    {%- set spec = entity_spec(entity) -%}
    {{ incremental_latest(union_staging(entity), spec["key"], spec["updated_at"]) }}
{%- endmacro %}
