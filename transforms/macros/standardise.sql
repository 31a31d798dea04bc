{#- Standardisation helpers used by the staging models (one place for each rule). -#}

{#- A local wall-clock time (no offset) parsed with `fmt` and converted to UTC from zone `tz` (default var('source_timezone')).
    'T' separators are replaced by a space first, so one format serves ISO and space-separated values. -#}
{% macro local_ts_to_utc(col, fmt='yyyy-MM-dd HH:mm:ss', tz=none) -%}
    to_utc_timestamp(try_to_timestamp(replace(nullif(trim({{ col }}), ''), 'T', ' '), '{{ fmt }}'), '{{ tz or var("source_timezone") }}')
{%- endmacro %}

{#- DICOM DA (YYYYMMDD; the old ACR-NEMA form YYYY.MM.DD too) as a date. -#}
{% macro dicom_date(col) -%}
    to_date(try_to_timestamp(substr(replace(trim({{ col }}), '.', ''), 1, 8), 'yyyyMMdd'))
{%- endmacro %}

{#- A DICOM DA + TM pair as a UTC timestamp (TM: HHMMSS.FFFFFF, trailing parts optional, old form HH:MM:SS;
    seconds kept); a date without a time is midnight local time. -#}
{% macro dicom_ts(date_col, time_col, tz=none) -%}
    {%- set digits = "rpad(substr(replace(replace(coalesce(trim(" ~ time_col ~ "), ''), ':', ''), '.', ''), 1, 6), 6, '0')" -%}
    {{ local_ts_to_utc("substr(replace(trim(" ~ date_col ~ "), '.', ''), 1, 8) || " ~ digits, 'yyyyMMddHHmmss', tz) }}
{%- endmacro %}

{#- The wall-clock zone of one source's times: var('source_timezones')[source], else var('source_timezone'). -#}
{% macro source_timezone_of(source_id) -%}
    {{- var("source_timezones", {}).get(source_id, var("source_timezone")) -}}
{%- endmacro %}

{#- SQL: the zone of the source in column `source_col` (for gold's local calendar days). -#}
{% macro source_tz(source_col) -%}
    case {{ source_col }}{% for s, tz in var("source_timezones", {}).items() %} when '{{ s }}' then '{{ tz }}'{% endfor %} else '{{ var("source_timezone") }}' end
{%- endmacro %}

{#- The local calendar day (OMOP *_date) of a UTC timestamp, in the zone of the row's source. -#}
{% macro local_date(ts, source_col) -%}
    to_date(from_utc_timestamp({{ ts }}, {{ source_tz(source_col) }}))
{%- endmacro %}

{#- A stable record key for source rows that have no record id (Synthea events): a hash of all the row's columns. -#}
{% macro record_key(cols) -%}
    md5(to_json(struct({% for c in cols %}`{{ c }}`{% if not loop.last %}, {% endif %}{% endfor %})))
{%- endmacro %}

{#- An ISO 8601 time carrying its own offset (FHIR): the offset decides; the session zone is UTC. -#}
{% macro offset_ts_to_utc(col) -%}
    try_cast(nullif(trim({{ col }}), '') as timestamp)
{%- endmacro %}

{% macro to_date_fmt(col, fmt='yyyy-MM-dd') -%}
    to_date(try_to_timestamp(nullif(trim({{ col }}), ''), '{{ fmt }}'))
{%- endmacro %}

{#- Sex/gender as recorded (M/F, 男/女, male/female, GB/T 2261.1 1/2) -> M / F / U. -#}
{% macro std_sex(col) -%}
    case
        when upper(trim({{ col }})) in ('M', 'MALE', '1', '男') then 'M'
        when upper(trim({{ col }})) in ('F', 'FEMALE', '2', '女') then 'F'
        else 'U'
    end
{%- endmacro %}

{#- Visit class as recorded -> outpatient / inpatient / emergency (null when unknown).
    MIMIC-III admission types ELECTIVE / URGENT / NEWBORN are inpatient stays; its EMERGENCY admissions land as
    emergency (the visit vocabulary here has no 'ER and inpatient'). -#}
{% macro std_visit_type(col) -%}
    case
        when upper(trim({{ col }})) in ('OP', 'O', 'AMB', 'OUTPATIENT', '门诊', 'AMBULATORY', 'WELLNESS') then 'outpatient'
        when upper(trim({{ col }})) in ('IP', 'I', 'IMP', 'INPATIENT', '住院', 'ACUTE', 'ELECTIVE', 'URGENT', 'NEWBORN') then 'inpatient'
        when upper(trim({{ col }})) in ('ER', 'E', 'EMER', 'EMERGENCY', '急诊', 'URGENTCARE') then 'emergency'
    end
{%- endmacro %}

{#- Resident ID number: upper-case, without spaces and dashes. -#}
{% macro norm_id_number(col) -%}
    nullif(upper(regexp_replace(trim({{ col }}), '[\\s-]', '')), '')
{%- endmacro %}

{#- Phone: digits only, without a leading +86 / 86 country code (only when 13 digits remain). -#}
{% macro norm_phone(col) -%}
    nullif(regexp_replace(regexp_replace({{ col }}, '[^0-9]', ''), '^86(?=[0-9]{11}$)', ''), '')
{%- endmacro %}

{#- Blank -> null, trimmed. -#}
{% macro clean(col) -%}
    nullif(trim({{ col }}), '')
{%- endmacro %}

{#- FHIR reference 'Type/id' -> 'id'. -#}
{% macro strip_ref(col) -%}
    nullif(regexp_replace(trim({{ col }}), '^[A-Za-z]+/', ''), '')
{%- endmacro %}

{#- Lineage columns every silver row carries. -#}
{% macro lineage_columns() -%}
    _source_id, _source_file, _file_sha256, _batch_id, _row_number, _extract_date, _ingested_at
{%- endmacro %}

{% macro std_discharge_status(col) -%}
    case
        when lower(trim({{ col }})) in ('home', '离院', '1', '01') then 'home'
        when lower(trim({{ col }})) in ('transfer', '转院', '2', '02') then 'transfer'
        when lower(trim({{ col }})) in ('death', 'exp', '死亡', '5', '05', '20') then 'death'
        else nullif(lower(trim({{ col }})), '')
    end
{%- endmacro %}

{#- primary / secondary (HL7 DG1-6 A/F/W, FHIR category text, Chinese 主要诊断/其他诊断). -#}
{% macro std_diagnosis_type(col) -%}
    case
        when lower(trim({{ col }})) in ('primary', '主要诊断', '1') then 'primary'
        when lower(trim({{ col }})) in ('secondary', '其他诊断', '次要诊断', '2') then 'secondary'
        else nullif(lower(trim({{ col }})), '')
    end
{%- endmacro %}

{% macro std_department_type(col) -%}
    case
        when upper(trim({{ col }})) in ('CLINICAL', 'CLIN', '临床科室') then 'clinical'
        when upper(trim({{ col }})) in ('MEDICAL_TECHNOLOGY', 'MEDTECH', '医技科室') then 'medical_technology'
        else nullif(lower(trim({{ col }})), '')
    end
{%- endmacro %}

{#- ICD-10 in its many spellings (ICD-10, ICD10, I10 in HL7 table 0396, the FHIR system URI) -> 'ICD10';
    LOINC, SNOMED, ICD9CM, ICD9Proc, RxNorm likewise (OMOP vocabulary_id spelling). -#}
{% macro std_code_system(col) -%}
    case
        when {{ col }} is null or trim({{ col }}) = '' then null
        when upper(regexp_replace(trim({{ col }}), '[^A-Za-z0-9]', '')) in ('ICD10', 'I10', 'ICD10CN', 'HTTPHL7ORGFHIRSIDICD10')
            or lower(trim({{ col }})) = 'http://hl7.org/fhir/sid/icd-10' then 'ICD10'
        when lower(trim({{ col }})) in ('ln', 'loinc', 'http://loinc.org') then 'LOINC'
        when lower(trim({{ col }})) in ('http://snomed.info/sct', 'sct', 'snomed') then 'SNOMED'
        when upper(regexp_replace(trim({{ col }}), '[^A-Za-z0-9]', '')) in ('ICD9CM', 'ICD9') then 'ICD9CM'
        when upper(regexp_replace(trim({{ col }}), '[^A-Za-z0-9]', '')) in ('ICD9PROC', 'ICD9PCS') then 'ICD9Proc'
        when lower(trim({{ col }})) in ('rxnorm', 'http://www.nlm.nih.gov/research/umls/rxnorm') then 'RxNorm'
        else upper(trim({{ col }}))
    end
{%- endmacro %}

{#- Lab units towards UCUM spelling (μ/µ -> u, 10^9 -> 10*9, IU/L -> U/L); the seed map_units gives the concept. -#}
{% macro std_unit(col) -%}
    nullif(
        regexp_replace(regexp_replace(regexp_replace(regexp_replace(trim({{ col }}), '[μµ]', 'u'), '^[x×]?10\\^', '10*'), '^IU/', 'U/'), '/l$', '/L'),
        '')
{%- endmacro %}

{#- H / L / N (Chinese arrows ↑ ↓, blanks are normal results). -#}
{% macro std_abnormal_flag(col) -%}
    case
        when trim({{ col }}) in ('H', 'HH', '↑', '偏高', '高') then 'H'
        when trim({{ col }}) in ('L', 'LL', '↓', '偏低', '低') then 'L'
        when {{ col }} is null or trim({{ col }}) in ('', 'N', '正常') then 'N'
        else upper(trim({{ col }}))
    end
{%- endmacro %}

{#- HL7 v2 TS (YYYYMMDD[HHMM[SS]]), local time -> UTC. -#}
{% macro hl7_ts_to_utc(col) -%}
    to_utc_timestamp(coalesce(
        try_to_timestamp(substr(trim({{ col }}), 1, 14), 'yyyyMMddHHmmss'),
        try_to_timestamp(substr(trim({{ col }}), 1, 12), 'yyyyMMddHHmm'),
        try_to_timestamp(substr(trim({{ col }}), 1, 8), 'yyyyMMdd')
    ), '{{ var("source_timezone") }}')
{%- endmacro %}

{#- SQL: the vocabulary of a source's codes of one domain where the record does not say
    (var('source_vocabularies')[source][domain]), else `default` (an SQL expression). -#}
{% macro source_vocabulary(domain, source_col, default) -%}
    case {{ source_col }}{% for s, vocabularies in var("source_vocabularies", {}).items() if domain in vocabularies %} when '{{ s }}' then '{{ vocabularies[domain] }}'{% endfor %} else {{ default }} end
{%- endmacro %}
