{#- The canonical silver columns per entity and which staged sources deliver it.
    Adding a source = adding its id here (and its staging models). -#}
{% macro entity_spec(entity) -%}
    {%- set specs = {
        "patients": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_adt"],
            "key": ["source_id", "patient_source_id"], "updated_at": true,
            "columns": ["patient_source_id", "id_number", "id_number_source_value", "name", "sex", "sex_source_value",
                        "birth_date", "phone", "address", "region_code", "insurance_no", "death_date", "ethnicity", "updated_at"]},
        "encounters": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_adt"],
            "key": ["source_id", "encounter_source_id"], "updated_at": true,
            "columns": ["encounter_source_id", "patient_source_id", "visit_type", "visit_type_source_value", "admit_time",
                        "discharge_time", "department_code", "doctor_code", "discharge_status", "updated_at"]},
        "diagnoses": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_adt"],
            "key": ["source_id", "diagnosis_source_id"], "updated_at": false,
            "columns": ["diagnosis_source_id", "encounter_source_id", "patient_source_id", "diagnosis_code", "code_system",
                        "diagnosis_name", "diagnosis_type", "diagnosis_time"]},
        "prescriptions": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_his"],
            "key": ["source_id", "prescription_source_id"], "updated_at": false,
            "columns": ["prescription_source_id", "encounter_source_id", "patient_source_id", "drug_code", "drug_name", "dose",
                        "dose_unit", "route", "frequency", "quantity", "start_time", "end_time", "doctor_code"]},
        "lab_results": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_adt"],
            "key": ["source_id", "lab_result_source_id"], "updated_at": false,
            "columns": ["lab_result_source_id", "encounter_source_id", "patient_source_id", "lab_code", "lab_name",
                        "value_source_value", "value_as_number", "unit", "reference_range", "range_low", "range_high",
                        "abnormal_flag", "specimen_time", "result_time"]},
        "doctors": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_his"],
            "key": ["source_id", "doctor_code"], "updated_at": false,
            "columns": ["doctor_code", "name", "sex", "title", "department_code", "specialty", "license_no", "phone"]},
        "departments": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_his"],
            "key": ["source_id", "department_code"], "updated_at": false,
            "columns": ["department_code", "department_name", "department_type", "department_type_source_value", "parent_code"]},
        "devices": {
            "sources": ["h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_his"],
            "key": ["source_id", "device_code"], "updated_at": false,
            "columns": ["device_code", "device_name", "device_type", "manufacturer", "model", "serial_no", "department_code", "install_date"]},
    } -%}
    {{ return(specs[entity]) }}
{%- endmacro %}

{#- union all of one entity's staging models, canonical columns + lineage -#}
{% macro union_staging(entity) -%}
    {%- set spec = entity_spec(entity) -%}
    {%- for source_id in spec["sources"] %}
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
