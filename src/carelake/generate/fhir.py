"""Canonical records as FHIR R4 resources (a community health centre's bulk export).

``RESOURCES`` says, per canonical entity, which resource type carries it, the
NDJSON file name, and how the registry maps simple FHIR paths (dotted, with
``[n]`` indexes and ``[key=value]`` filters) to canonical columns. Departments
are ``Organization`` resources that are ``partOf`` the centre. A value
blanked by a completeness defect is left out of the resource.
"""

from __future__ import annotations

from datetime import datetime

from carelake.generate.layouts import Hospital
from carelake.generate.reference import ICD10_SYSTEM, LOINC_SYSTEM, NATIONAL_ID_SYSTEM

_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_CLASS = {"outpatient": ("AMB", "ambulatory"), "emergency": ("EMER", "emergency"), "inpatient": ("IMP", "inpatient encounter")}
_DISPOSITION = {"home": "home", "transfer": "other-hcf"}
_FLAG = {"H": "H", "L": "L", "N": "N"}
LICENSE_SYSTEM = "urn:oid:2.16.156.10011.1.4"  # 医师执业证书编码


def system(hospital: Hospital, what: str) -> str:
    return f"https://fhir.{hospital.slug.replace('_', '-')}.example.cn/sid/{what}"


def _mrn_system(hospital: Hospital) -> str:
    return system(hospital, "mrn")


RESOURCES: dict[str, tuple[str, str, dict[str, str]]] = {
    "patients": ("Patient", "Patient.ndjson", {
        "id": "patient_source_id",
        f"identifier[system={NATIONAL_ID_SYSTEM}].value": "id_number",
        "name[0].text": "name",
        "gender": "sex",
        "birthDate": "birth_date",
        "telecom[system=phone].value": "phone",
        "address[0].text": "address",
        "address[0].district": "region_code",  # the 6-digit division code
        "deceasedDateTime": "death_date",
        "meta.lastUpdated": "updated_at",
    }),
    "encounters": ("Encounter", "Encounter.ndjson", {
        "id": "encounter_source_id",
        "subject.reference": "patient_source_id",
        "class.code": "visit_type",
        "period.start": "admit_time",
        "period.end": "discharge_time",
        "serviceProvider.reference": "department_code",
        "participant[0].individual.reference": "doctor_code",
        "hospitalization.dischargeDisposition.coding[0].code": "discharge_status",
        "meta.lastUpdated": "updated_at",
    }),
    "diagnoses": ("Condition", "Condition.ndjson", {
        "id": "diagnosis_source_id",
        "encounter.reference": "encounter_source_id",
        "subject.reference": "patient_source_id",
        "code.coding[0].code": "diagnosis_code",
        "code.coding[0].system": "code_system",
        "code.coding[0].display": "diagnosis_name",
        "category[0].coding[0].code": "diagnosis_type",
        "recordedDate": "diagnosis_time",
    }),
    "prescriptions": ("MedicationRequest", "MedicationRequest.ndjson", {
        "id": "prescription_source_id",
        "encounter.reference": "encounter_source_id",
        "subject.reference": "patient_source_id",
        "medicationCodeableConcept.coding[0].code": "drug_code",
        "medicationCodeableConcept.text": "drug_name",
        "dosageInstruction[0].doseAndRate[0].doseQuantity.value": "dose",
        "dosageInstruction[0].doseAndRate[0].doseQuantity.unit": "dose_unit",
        "dosageInstruction[0].route.text": "route",
        "dosageInstruction[0].timing.code.text": "frequency",
        "dispenseRequest.quantity.value": "quantity",
        "authoredOn": "start_time",
        "dispenseRequest.validityPeriod.end": "end_time",
        "requester.reference": "doctor_code",
    }),
    "lab_results": ("Observation", "Observation.ndjson", {
        "id": "lab_result_source_id",
        "encounter.reference": "encounter_source_id",
        "subject.reference": "patient_source_id",
        "code.coding[0].code": "lab_code",
        "code.coding[0].display": "lab_name",
        "valueQuantity.value": "value",
        "valueQuantity.unit": "unit",
        "referenceRange[0].text": "reference_range",
        "interpretation[0].coding[0].code": "abnormal_flag",
        "effectiveDateTime": "specimen_time",
        "issued": "result_time",
    }),
    "doctors": ("Practitioner", "Practitioner.ndjson", {
        "id": "doctor_code",
        "name[0].text": "name",
        "gender": "sex",
        "qualification[0].code.text": "title",
        f"identifier[system={LICENSE_SYSTEM}].value": "license_no",
        "telecom[system=phone].value": "phone",
    }),
    "departments": ("Organization", "Organization.ndjson", {
        "id": "department_code",
        "name": "department_name",
        "type[0].text": "department_type",
        "partOf.reference": "parent_code",
    }),
    "devices": ("Device", "Device.ndjson", {
        "id": "device_code",
        "deviceName[0].name": "device_name",
        "type.text": "device_type",
        "manufacturer": "manufacturer",
        "modelNumber": "model",
        "serialNumber": "serial_no",
        "owner.reference": "department_code",
    }),
}


def instant(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def _prune(resource: dict) -> dict:
    """Drop keys whose value is None (FHIR has no nulls)."""
    return {k: v for k, v in resource.items() if v is not None}


def _ref(kind: str, value: str | None) -> dict | None:
    return {"reference": f"{kind}/{value}"} if value else None


def patient(r: dict, h: Hospital) -> dict:
    identifiers = [{"use": "usual", "type": {"coding": [{"system": _V2_0203, "code": "MR"}]}, "system": _mrn_system(h),
                    "value": r["patient_source_id"]}]
    if r["id_number"]:
        identifiers.append({"use": "official", "type": {"text": "居民身份证"}, "system": NATIONAL_ID_SYSTEM, "value": r["id_number"]})
    return _prune({
        "resourceType": "Patient", "id": r["patient_source_id"],
        "meta": {"lastUpdated": instant(r["updated_at"])},
        "identifier": identifiers,
        "name": [{"use": "official", "text": r["name"]}],
        "telecom": [{"system": "phone", "value": r["phone"], "use": "mobile"}],
        "gender": {"M": "male", "F": "female"}[r["sex"]],
        "birthDate": r["birth_date"].isoformat() if r["birth_date"] else None,
        "deceasedDateTime": instant(r["death_date"]) if r["death_date"] else None,
        "address": [{"use": "home", "text": r["address"], "district": r["region_code"], "country": "CN"}],
        "managingOrganization": {"reference": f"Organization/{h.organization}"},
    })


def encounter(r: dict, h: Hospital) -> dict:
    code, display = _CLASS[r["visit_type"]]
    period = _prune({"start": instant(r["admit_time"]) if r["admit_time"] else None,
                     "end": instant(r["discharge_time"]) if r["discharge_time"] else None})
    return _prune({
        "resourceType": "Encounter", "id": r["encounter_source_id"],
        "meta": {"lastUpdated": instant(r["updated_at"])},
        "identifier": [{"system": system(h, "visit"), "value": r["encounter_source_id"]}],
        "status": "finished" if r["discharge_time"] else "in-progress",
        "class": {"system": _ACT_CODE, "code": code, "display": display},
        "subject": _ref("Patient", r["patient_source_id"]),
        "participant": [{"individual": _ref("Practitioner", r["doctor_code"])}],
        "period": period,
        "hospitalization": {"dischargeDisposition": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/discharge-disposition", "code": _DISPOSITION[r["discharge_status"]]}]}}
        if r["discharge_status"] else None,
        "serviceProvider": _ref("Organization", r["department_code"]),
    })


def condition(r: dict, h: Hospital) -> dict:
    return {
        "resourceType": "Condition", "id": r["diagnosis_source_id"],
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}],
                      "text": r["diagnosis_type"]}],
        "code": {"coding": [{"system": ICD10_SYSTEM, "code": r["diagnosis_code"], "display": r["diagnosis_name"]}],
                 "text": r["diagnosis_name"]},
        "subject": _ref("Patient", r["patient_source_id"]),
        "encounter": _ref("Encounter", r["encounter_source_id"]),
        "recordedDate": instant(r["diagnosis_time"]),
    }


def medication_request(r: dict, h: Hospital) -> dict:
    return {
        "resourceType": "MedicationRequest", "id": r["prescription_source_id"], "status": "active", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": system(h, "drug"), "code": r["drug_code"]}], "text": r["drug_name"]},
        "subject": _ref("Patient", r["patient_source_id"]),
        "encounter": _ref("Encounter", r["encounter_source_id"]),
        "authoredOn": instant(r["start_time"]),
        "requester": _ref("Practitioner", r["doctor_code"]),
        "dosageInstruction": [{
            "text": f"{r['dose']}{r['dose_unit']} {r['route']} {r['frequency']}",
            "timing": {"code": {"text": r["frequency"]}},
            "route": {"text": r["route"]},
            "doseAndRate": [{"doseQuantity": {"value": _number(r["dose"]), "unit": r["dose_unit"]}}],
        }],
        "dispenseRequest": {"validityPeriod": {"start": instant(r["start_time"]), "end": instant(r["end_time"])},
                            "quantity": {"value": _number(r["quantity"])}},
    }


def observation(r: dict, h: Hospital) -> dict:
    test = r["_test"]
    quantity = _prune({"value": _number(r["value"]) if r["value"] else None, "unit": r["unit"],
                       "system": "http://unitsofmeasure.org", "code": r["unit"]})
    return {
        "resourceType": "Observation", "id": r["lab_result_source_id"], "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": r["lab_code"], "display": test.name_en}], "text": r["lab_name"]},
        "subject": _ref("Patient", r["patient_source_id"]),
        "encounter": _ref("Encounter", r["encounter_source_id"]),
        "effectiveDateTime": instant(r["specimen_time"]),
        "issued": instant(r["result_time"]),
        "valueQuantity": quantity,
        "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                        "code": _FLAG[r["abnormal_flag"]]}]}],
        "referenceRange": [{"low": {"value": test.low, "unit": test.unit}, "high": {"value": test.high, "unit": test.unit},
                            "text": r["reference_range"]}],
    }


def practitioner(r: dict, h: Hospital) -> dict:
    return {
        "resourceType": "Practitioner", "id": r["doctor_code"], "active": True,
        "identifier": [{"system": system(h, "staff"), "value": r["doctor_code"]}, {"system": LICENSE_SYSTEM, "value": r["license_no"]}],
        "name": [{"text": r["name"]}],
        "telecom": [{"system": "phone", "value": r["phone"], "use": "work"}],
        "gender": {"M": "male", "F": "female"}[r["sex"]],
        "qualification": [{"code": {"text": r["title"]}}],
    }


def organization(r: dict, h: Hospital) -> dict:
    return _prune({
        "resourceType": "Organization", "id": r["department_code"], "active": True,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "dept"}],
                  "text": r["department_type"]}],
        "name": r["department_name"],
        "partOf": {"reference": f"Organization/{r['parent_code'] or h.organization}"},
    })


def device(r: dict, h: Hospital) -> dict:
    return {
        "resourceType": "Device", "id": r["device_code"], "status": "active",
        "identifier": [{"system": system(h, "asset"), "value": r["device_code"]}],
        "deviceName": [{"name": r["device_name"], "type": "user-friendly-name"}],
        "type": {"text": r["device_type"]},
        "manufacturer": r["manufacturer"], "modelNumber": r["model"], "serialNumber": r["serial_no"],
        "owner": _ref("Organization", r["department_code"]),
    }


BUILDERS = {
    "patients": patient, "encounters": encounter, "diagnoses": condition, "prescriptions": medication_request,
    "lab_results": observation, "doctors": practitioner, "departments": organization, "devices": device,
}
