"""The hospitals and how each one lays its extracts out.

Four layouts, cycled when more hospitals are asked for:

* ``csv_en``  a HIS exporting UTF-8 CSV with English headers and ISO times;
* ``csv_zh``  a HIS exporting GB18030 CSV with Chinese headers, ``YYYY/MM/DD``
  dates, CRLF line ends and its own lab codes (L001...);
* ``fhir``    a community health centre's FHIR R4 bulk export (NDJSON);
* ``hl7``     a hospital with two systems: an HL7 v2.5 ADT/lab feed and a
  pipe-delimited CSV export of pharmacy orders and master data.

A CSV layout is a table: per entity the file name and its columns as
(header, canonical column) pairs; columns starting with ``x_`` are source
extras with no canonical name (kept in bronze under their own name).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

_BASE_NAMES = (
    ("riverside", "Riverside General Hospital", "hospital", "csv_en"),
    ("dongcheng", "东城区人民医院", "hospital", "csv_zh"),
    ("xishan_chc", "西山社区卫生服务中心", "primary_care", "fhir"),
    ("nanhu", "南湖医院", "hospital", "hl7"),
)


@dataclass(frozen=True)
class Hospital:
    number: int  # 1-based
    slug: str  # e.g. riverside, or riverside_2 on the second cycle
    name: str
    kind: str
    layout: str

    @property
    def base_id(self) -> str:
        return f"h{self.number:02d}_{self.slug}"

    @property
    def organization(self) -> str:
        return f"H{self.number:02d}"

    @property
    def source_ids(self) -> dict[str, str]:
        """Role -> source id: the hl7 hospital has an ADT feed and a HIS export."""
        if self.layout == "hl7":
            return {"adt": f"{self.base_id}_adt", "his": f"{self.base_id}_his"}
        return {"main": self.base_id}

    def patient_id(self, n: int) -> str:
        return _ID_SCHEMES[self.layout]["patients"](self, n)

    def record_id(self, entity: str, n: int, **context) -> str:
        return _ID_SCHEMES[self.layout][entity](self, n, **context)


def plan_hospitals(count: int) -> list[Hospital]:
    hospitals = []
    for index in range(count):
        slug, name, kind, layout = _BASE_NAMES[index % len(_BASE_NAMES)]
        cycle = index // len(_BASE_NAMES)
        if cycle:
            slug, name = f"{slug}_{cycle + 1}", f"{name} ({cycle + 1})"
        hospitals.append(Hospital(index + 1, slug, name, kind, layout))
    return hospitals


def _uuid(hospital: Hospital, entity: str, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{hospital.base_id}/{entity}/{n}"))


_VISIT_PREFIX_ZH = {"outpatient": "MZ", "emergency": "JZ", "inpatient": "ZY"}

# Each layout numbers its records its own way (MRNs with leading zeros, UUIDs, visit-type prefixes).
_ID_SCHEMES = {
    "csv_en": {
        "patients": lambda h, n: f"MRN{h.number:02d}{n:06d}",
        "encounters": lambda h, n, **_: f"ENC{n:08d}",
        "diagnoses": lambda h, n, **_: f"DX{n:08d}",
        "prescriptions": lambda h, n, **_: f"RX{n:08d}",
        "lab_results": lambda h, n, **_: f"LR{n:09d}",
        "doctors": lambda h, n, **_: f"DR{n:04d}",
        "departments": lambda h, n, **_: f"D{n:02d}",
        "devices": lambda h, n, **_: f"EQ{n:05d}",
    },
    "csv_zh": {
        "patients": lambda h, n: f"{h.number:02d}{n:08d}",
        "encounters": lambda h, n, visit_type="outpatient", **_: f"{_VISIT_PREFIX_ZH[visit_type]}{n:08d}",
        "diagnoses": lambda h, n, **_: f"{n:010d}",
        "prescriptions": lambda h, n, **_: f"CF{n:09d}",
        "lab_results": lambda h, n, **_: f"JY{n:09d}",
        "doctors": lambda h, n, **_: f"{n:05d}",
        "departments": lambda h, n, **_: f"{n:02d}01",
        "devices": lambda h, n, **_: f"SB{n:06d}",
    },
    "fhir": {
        "patients": lambda h, n: _uuid(h, "Patient", n),
        "encounters": lambda h, n, **_: _uuid(h, "Encounter", n),
        "diagnoses": lambda h, n, **_: _uuid(h, "Condition", n),
        "prescriptions": lambda h, n, **_: _uuid(h, "MedicationRequest", n),
        "lab_results": lambda h, n, **_: _uuid(h, "Observation", n),
        "doctors": lambda h, n, **_: f"prac-{n:04d}",
        "departments": lambda h, n, **_: f"dept-{n:02d}",
        "devices": lambda h, n, **_: f"dev-{n:04d}",
    },
    "hl7": {
        "patients": lambda h, n: f"{n:08d}",
        "encounters": lambda h, n, **_: f"V{n:09d}",
        "diagnoses": lambda h, n, **_: f"DG{n:08d}",
        "prescriptions": lambda h, n, **_: f"{n:010d}",
        "lab_results": lambda h, n, **_: f"R{n:09d}",
        "doctors": lambda h, n, **_: f"YS{n:04d}",
        "departments": lambda h, n, **_: f"K{n:03d}",
        "devices": lambda h, n, **_: f"ZC{n:06d}",
    },
}


@dataclass(frozen=True)
class CsvLayout:
    encoding: str
    delimiter: str
    header_language: str
    line_terminator: str
    datetime_format: str
    date_format: str
    language: str  # "en" or "zh": which names (diagnoses, drugs, departments) the HIS stores
    local_lab_codes: bool
    value_maps: dict[str, dict[str, str]]  # canonical column -> canonical value -> value as written
    files: dict[str, tuple[str, tuple[tuple[str, str], ...]]]  # entity -> (file name, ((header, column), ...))

    def render(self, column: str, value) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.strftime(self.datetime_format)
        if isinstance(value, date):
            return value.strftime(self.date_format)
        mapping = self.value_maps.get(column)
        return mapping.get(value, value) if mapping else value

    def registry_columns(self, entity: str) -> dict[str, str]:
        return {header: column for header, column in self.files[entity][1] if not column.startswith("x_")}


_PATIENT_EN = (
    ("PatientID", "patient_source_id"), ("IDCardNo", "id_number"), ("FullName", "name"), ("Sex", "sex"),
    ("DOB", "birth_date"), ("Phone", "phone"), ("Address", "address"), ("RegionCode", "region_code"),
    ("InsuranceNo", "insurance_no"), ("DeathDate", "death_date"), ("LastUpdated", "updated_at"),
)
_DOCTORS_EN = (
    ("DoctorCode", "doctor_code"), ("DoctorName", "name"), ("Sex", "sex"), ("Title", "title"),
    ("DeptCode", "department_code"), ("Specialty", "specialty"), ("LicenseNo", "license_no"), ("Phone", "phone"),
)
_DEPARTMENTS_EN = (("DeptCode", "department_code"), ("DeptName", "department_name"), ("DeptType", "department_type"), ("ParentCode", "parent_code"))
_DEVICES_EN = (
    ("AssetCode", "device_code"), ("DeviceName", "device_name"), ("Category", "device_type"), ("Manufacturer", "manufacturer"),
    ("Model", "model"), ("SerialNo", "serial_no"), ("DeptCode", "department_code"), ("InstallDate", "install_date"),
)

CSV_EN = CsvLayout(
    encoding="utf-8", delimiter=",", header_language="en", line_terminator="\n",
    datetime_format="%Y-%m-%dT%H:%M:%S", date_format="%Y-%m-%d", language="en", local_lab_codes=False,
    value_maps={"visit_type": {"outpatient": "OP", "inpatient": "IP", "emergency": "ER"}},
    files={
        "patients": ("patients.csv", _PATIENT_EN),
        "encounters": ("encounters.csv", (
            ("EncounterID", "encounter_source_id"), ("PatientID", "patient_source_id"), ("VisitType", "visit_type"),
            ("AdmitTime", "admit_time"), ("DischargeTime", "discharge_time"), ("DeptCode", "department_code"),
            ("AttendingDoctor", "doctor_code"), ("DischargeStatus", "discharge_status"), ("LastUpdated", "updated_at"))),
        "diagnoses": ("diagnoses.csv", (
            ("DiagnosisID", "diagnosis_source_id"), ("EncounterID", "encounter_source_id"), ("PatientID", "patient_source_id"),
            ("ICD10Code", "diagnosis_code"), ("CodeSystem", "code_system"), ("Description", "diagnosis_name"),
            ("DiagnosisType", "diagnosis_type"), ("DiagnosedAt", "diagnosis_time"))),
        "prescriptions": ("prescriptions.csv", (
            ("OrderID", "prescription_source_id"), ("EncounterID", "encounter_source_id"), ("PatientID", "patient_source_id"),
            ("DrugCode", "drug_code"), ("DrugName", "drug_name"), ("Dose", "dose"), ("DoseUnit", "dose_unit"),
            ("Route", "route"), ("Frequency", "frequency"), ("Quantity", "quantity"), ("StartTime", "start_time"),
            ("EndTime", "end_time"), ("OrderingDoctor", "doctor_code"))),
        "lab_results": ("lab_results.csv", (
            ("ResultID", "lab_result_source_id"), ("EncounterID", "encounter_source_id"), ("PatientID", "patient_source_id"),
            ("LOINC", "lab_code"), ("TestName", "lab_name"), ("Value", "value"), ("Unit", "unit"),
            ("RefRange", "reference_range"), ("Flag", "abnormal_flag"), ("CollectedAt", "specimen_time"),
            ("ReportedAt", "result_time"))),
        "doctors": ("doctors.csv", _DOCTORS_EN),
        "departments": ("departments.csv", _DEPARTMENTS_EN),
        "devices": ("devices.csv", _DEVICES_EN),
        "notes": ("notes.csv", (
            ("NoteID", "note_source_id"), ("EncounterID", "encounter_source_id"), ("PatientID", "patient_source_id"),
            ("NoteTime", "note_time"), ("NoteType", "note_type"), ("Title", "note_title"), ("NoteText", "note_text"),
            ("AuthorCode", "doctor_code"), ("Comment", "comment"))),
    },
)

CSV_ZH = CsvLayout(
    encoding="gb18030", delimiter=",", header_language="zh", line_terminator="\r\n",
    datetime_format="%Y/%m/%d %H:%M", date_format="%Y/%m/%d", language="zh", local_lab_codes=True,
    value_maps={
        "sex": {"M": "男", "F": "女"},
        "visit_type": {"outpatient": "门诊", "inpatient": "住院", "emergency": "急诊"},
        "discharge_status": {"home": "离院", "transfer": "转院", "death": "死亡"},
        "diagnosis_type": {"primary": "主要诊断", "secondary": "其他诊断"},
        "department_type": {"clinical": "临床科室", "medical_technology": "医技科室"},
        "abnormal_flag": {"H": "↑", "L": "↓", "N": ""},
    },
    files={
        "patients": ("hzxx_patients.csv", (
            ("患者编号", "patient_source_id"), ("身份证号", "id_number"), ("姓名", "name"), ("性别", "sex"),
            ("出生日期", "birth_date"), ("民族", "x_ethnicity"), ("联系电话", "phone"), ("家庭住址", "address"),
            ("行政区划代码", "region_code"), ("医保卡号", "insurance_no"), ("死亡日期", "death_date"), ("更新时间", "updated_at"))),
        "encounters": ("jzjl_encounters.csv", (
            ("就诊流水号", "encounter_source_id"), ("患者编号", "patient_source_id"), ("就诊类型", "visit_type"),
            ("入院时间", "admit_time"), ("出院时间", "discharge_time"), ("科室编码", "department_code"),
            ("医生工号", "doctor_code"), ("离院方式", "discharge_status"), ("更新时间", "updated_at"))),
        "diagnoses": ("zdxx_diagnoses.csv", (
            ("诊断记录号", "diagnosis_source_id"), ("就诊流水号", "encounter_source_id"), ("患者编号", "patient_source_id"),
            ("诊断编码", "diagnosis_code"), ("编码体系", "code_system"), ("诊断名称", "diagnosis_name"),
            ("诊断类别", "diagnosis_type"), ("诊断时间", "diagnosis_time"))),
        "prescriptions": ("cfxx_prescriptions.csv", (
            ("处方明细号", "prescription_source_id"), ("就诊流水号", "encounter_source_id"), ("患者编号", "patient_source_id"),
            ("药品编码", "drug_code"), ("药品名称", "drug_name"), ("单次剂量", "dose"), ("剂量单位", "dose_unit"),
            ("给药途径", "route"), ("频次", "frequency"), ("数量", "quantity"), ("开始时间", "start_time"),
            ("结束时间", "end_time"), ("开方医生", "doctor_code"))),
        "lab_results": ("jyjg_lab_results.csv", (
            ("检验结果号", "lab_result_source_id"), ("就诊流水号", "encounter_source_id"), ("患者编号", "patient_source_id"),
            ("检验项目编码", "lab_code"), ("检验项目名称", "lab_name"), ("结果值", "value"), ("单位", "unit"),
            ("参考范围", "reference_range"), ("异常标志", "abnormal_flag"), ("采样时间", "specimen_time"),
            ("报告时间", "result_time"))),
        "doctors": ("ysxx_doctors.csv", (
            ("工号", "doctor_code"), ("姓名", "name"), ("性别", "sex"), ("职称", "title"), ("科室编码", "department_code"),
            ("专业", "specialty"), ("执业证书编码", "license_no"), ("联系电话", "phone"))),
        "departments": ("ksxx_departments.csv", (
            ("科室编码", "department_code"), ("科室名称", "department_name"), ("科室类别", "department_type"),
            ("上级科室", "parent_code"))),
        "devices": ("sbxx_devices.csv", (
            ("资产编号", "device_code"), ("设备名称", "device_name"), ("设备类别", "device_type"), ("生产厂家", "manufacturer"),
            ("型号", "model"), ("出厂编号", "serial_no"), ("使用科室", "department_code"), ("安装日期", "install_date"))),
        "notes": ("bcjl_notes.csv", (
            ("记录号", "note_source_id"), ("就诊流水号", "encounter_source_id"), ("患者编号", "patient_source_id"),
            ("记录时间", "note_time"), ("记录类型", "note_type"), ("标题", "note_title"), ("记录内容", "note_text"),
            ("记录医生", "doctor_code"), ("备注", "comment"))),
    },
)

HIS_EXPORT = CsvLayout(
    encoding="utf-8", delimiter="|", header_language="en", line_terminator="\n",
    datetime_format="%Y-%m-%d %H:%M:%S", date_format="%Y-%m-%d", language="zh", local_lab_codes=False,
    value_maps={"department_type": {"clinical": "CLIN", "medical_technology": "MEDTECH"}},
    files={
        "prescriptions": ("pharmacy_orders.csv", (
            ("RX_LINE_NO", "prescription_source_id"), ("VISIT_NO", "encounter_source_id"), ("PAT_NO", "patient_source_id"),
            ("DRUG_CODE", "drug_code"), ("DRUG_NAME", "drug_name"), ("DOSAGE", "dose"), ("DOSAGE_UNIT", "dose_unit"),
            ("ADMIN_ROUTE", "route"), ("FREQ", "frequency"), ("AMOUNT", "quantity"), ("ORDER_TIME", "start_time"),
            ("STOP_TIME", "end_time"), ("DOCTOR_NO", "doctor_code"))),
        "doctors": ("staff.csv", (
            ("STAFF_NO", "doctor_code"), ("STAFF_NAME", "name"), ("SEX", "sex"), ("TITLE", "title"),
            ("DEPT_NO", "department_code"), ("SPECIALTY", "specialty"), ("LICENSE_NO", "license_no"), ("TEL", "phone"))),
        "departments": ("dept_dict.csv", (
            ("DEPT_NO", "department_code"), ("DEPT_NAME", "department_name"), ("DEPT_CLASS", "department_type"),
            ("PARENT_DEPT_NO", "parent_code"))),
        "devices": ("equipment.csv", (
            ("EQUIP_NO", "device_code"), ("EQUIP_NAME", "device_name"), ("EQUIP_CLASS", "device_type"), ("VENDOR", "manufacturer"),
            ("MODEL", "model"), ("SERIAL_NO", "serial_no"), ("DEPT_NO", "department_code"), ("INSTALL_DATE", "install_date"))),
    },
)

CSV_LAYOUTS = {"csv_en": CSV_EN, "csv_zh": CSV_ZH, "hl7_his": HIS_EXPORT}
