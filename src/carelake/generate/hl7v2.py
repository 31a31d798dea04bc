"""Canonical records as an HL7 v2.5 ADT / lab feed.

Messages per extract day, ordered by the time they were sent:

* ``ADT^A28`` / ``ADT^A31``: a patient registered / updated (owns the patient record);
* ``ADT^A04`` (outpatient) or ``ADT^A01`` (emergency, inpatient): the visit starts
  (owns the encounter record); an inpatient's admitting diagnoses ride on it as DG1;
* ``ADT^A03``: the visit ends, with the final diagnoses (DG1) for same-day visits;
  an inpatient's discharge comes as its own A03 on the discharge day;
* ``ORU^R01``: a visit's lab results, one OBR and one OBX per test.

A duplicated record is its owning message sent again (same MSH-10) at the end
of the file it lands in. Delimiters in values are escaped (``\\F\\`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

from carelake.generate.layouts import Hospital

# HL7 escape sequences for the delimiters (python-hl7's escape also hex-encodes every non-ASCII
# character, which a UTF-8 feed (MSH-18) does not need).
_ESCAPES = str.maketrans({"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "~": "\\R\\", "&": "\\T\\",
                          "\r": "\\X0D\\", "\n": "\\X0A\\"})
_CLASS = {"outpatient": "O", "emergency": "E", "inpatient": "I"}
_DISPOSITION = {"home": "01", "transfer": "02"}
# canonical column -> the HL7 field that carries it in the owning message
FIELD_OF = {
    "patients": {"birth_date": "PID-7", "id_number": "PID-3", "patient_source_id": "MSH-10"},
    "encounters": {"admit_time": "PV1-44", "discharge_time": "PV1-45", "encounter_source_id": "MSH-10"},
    "diagnoses": {"diagnosis_code": "DG1-3", "diagnosis_time": "DG1-5", "diagnosis_source_id": "MSH-10"},
    "lab_results": {"value": "OBX-5", "specimen_time": "OBX-14", "lab_result_source_id": "MSH-10"},
}


def _esc(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d%H%M%S")
    if hasattr(value, "strftime"):
        return value.strftime("%Y%m%d")
    return str(value).translate(_ESCAPES)


def _components(*parts) -> str:
    return "^".join(_esc(p) for p in parts).rstrip("^")


def _segment(name: str, fields: dict[int, str]) -> str:
    last = max(fields)
    return "|".join([name] + [fields.get(i, "") for i in range(1, last + 1)])


@dataclass
class Message:
    sent: datetime
    control_id: str
    text: str
    owns: list[tuple[dict, str]] = field(default_factory=list)  # (canonical record, entity)


class AdtFeed:
    """Builds one hospital's messages day by day; remembers each record's message for repeats."""

    def __init__(self, hospital: Hospital):
        self.h = hospital
        self.count = 0
        self.patients: dict[str, dict] = {}  # current clean patient record by patient id
        self.message_of: dict[int, Message] = {}  # id(canonical record) -> its owning message

    def _msh(self, sent: datetime, kind: str) -> tuple[str, str]:
        self.count += 1
        control = f"{self.h.organization}{sent:%Y%m%d}{self.count:07d}"
        fields = {1: "^~\\&", 2: self.h.slug.upper() + "_HIS", 3: self.h.organization, 4: "CARELAKE", 5: "REGION_HIP",
                  6: _esc(sent), 8: kind, 9: control, 10: "P", 11: "2.5", 16: "CHN", 17: "UNICODE UTF-8"}
        # MSH-1 is the field separator itself, so MSH-n sits at list position n-1
        return "MSH|" + "|".join(fields.get(i, "") for i in range(1, 18)), control

    def _pid(self, p: dict) -> str:
        ids = _components(p["patient_source_id"], "", "", self.h.organization, "MR")
        if p["id_number"]:
            ids += "~" + _components(p["id_number"], "", "", "CHN", "NNCHN")
        name = p["name"] or ""
        return _segment("PID", {1: "1", 3: ids, 5: _components(name[:1], name[1:]), 7: _esc(p["birth_date"]),
                                8: p["sex"], 11: _components(p["address"], "", "", "", "", "CHN", "H", "", p["region_code"]),
                                13: _components(p["phone"], "PRN", "CP")})

    def _pv1(self, e: dict, admit, discharge) -> str:
        return _segment("PV1", {1: "1", 2: _CLASS[e["visit_type"]], 3: _components(e["department_code"], "", "", self.h.organization),
                                7: _esc(e["doctor_code"]), 19: _esc(e["encounter_source_id"]),
                                36: _DISPOSITION.get(e["discharge_status"], "") if discharge else "",
                                44: _esc(admit), 45: _esc(discharge)})

    def _message(self, sent: datetime, kind: str, event: str | None, body: list[str], owns) -> Message:
        msh, control = self._msh(sent, kind)
        segments = [msh] + ([_segment("EVN", {1: event, 2: _esc(sent)})] if event else []) + body
        message = Message(sent, control, "".join(s + "\r" for s in segments), owns)
        for record, _ in owns:
            self.message_of[id(record)] = message
        return message

    def day(self, records: dict[str, list[dict]], the_date) -> list[Message]:
        """The day's messages in sending order, repeats (duplicates) last."""
        midnight = datetime.combine(the_date, time())
        messages: list[Message] = []
        originals = {e: [r for r in records[e] if "_copy_of" not in r] for e in FIELD_OF}
        for p in originals["patients"]:
            known = p["patient_source_id"] in self.patients
            self.patients[p["patient_source_id"]] = {**p, **p.get("_orig", {})}
            kind, event = ("ADT^A31^ADT_A05", "A31") if known else ("ADT^A28^ADT_A05", "A28")
            messages.append(self._message(max(p["updated_at"], midnight), kind, event, [self._pid(p)], [(p, "patients")]))
        diagnoses: dict[str, list[dict]] = {}
        for d in originals["diagnoses"]:
            diagnoses.setdefault(d["encounter_source_id"], []).append(d)
        labs: dict[str, list[dict]] = {}
        for lab in originals["lab_results"]:
            labs.setdefault(lab["encounter_source_id"], []).append(lab)
        for e in originals["encounters"]:
            clean = {**e, **e.get("_orig", {})}
            pid = self._pid(self.patients[e["patient_source_id"]])
            dx = diagnoses.get(e["encounter_source_id"], [])
            closed = e["discharge_time"] is not None
            if closed and clean["admit_time"].date() != clean["discharge_time"].date():  # an inpatient's discharge
                messages.append(self._message(max(e["discharge_time"], midnight), "ADT^A03^ADT_A03", "A03",
                                              [pid, self._pv1(e, e["admit_time"], e["discharge_time"])], [(e, "encounters")]))
                continue
            kind, event = ("ADT^A04^ADT_A01", "A04") if e["visit_type"] == "outpatient" else ("ADT^A01^ADT_A01", "A01")
            admit_dx = [] if closed else dx
            # the visit record belongs to its admission message, unless its defect is in the discharge
            discharge_defect = e.get("_defect", ("",))[0] == "discharge_before_admission"
            messages.append(self._message(
                max(clean["admit_time"], midnight), kind, event,
                [pid, self._pv1(e, e["admit_time"], None)] + self._dg1s(admit_dx, "A"),
                ([] if discharge_defect else [(e, "encounters")]) + [(d, "diagnoses") for d in admit_dx]))
            if closed:
                owns = [(d, "diagnoses") for d in dx] + ([(e, "encounters")] if discharge_defect else [])
                sent = max(clean["admit_time"], clean["discharge_time"], midnight)
                messages.append(self._message(sent, "ADT^A03^ADT_A03", "A03",
                                              [pid, self._pv1(e, clean["admit_time"], e["discharge_time"])] + self._dg1s(dx, "F"),
                                              owns))
            if e["encounter_source_id"] in labs:
                messages.append(self._oru(e, pid, labs.pop(e["encounter_source_id"]), midnight))
        messages.sort(key=lambda m: m.sent)
        for entity in FIELD_OF:
            for copy in records[entity]:
                if "_copy_of" in copy:
                    original = self.message_of[id(copy["_copy_of"])]
                    repeat = Message(original.sent, original.control_id, original.text, [(copy, entity)])
                    messages.append(repeat)
        return messages

    def _dg1s(self, diagnoses: list[dict], kind: str) -> list[str]:
        return [_segment("DG1", {1: str(i), 3: _components(d["diagnosis_code"], d["diagnosis_name"], "I10"), 5: _esc(d["diagnosis_time"]),
                                 6: kind, 15: "1" if d["diagnosis_type"] == "primary" else "2", 20: _esc(d["diagnosis_source_id"])})
                for i, d in enumerate(diagnoses, start=1)]

    def _oru(self, e: dict, pid: str, labs: list[dict], midnight: datetime) -> Message:
        order = f"{e['encounter_source_id']}-LAB"
        first = labs[0]
        body = [pid, self._pv1(e, e["admit_time"], None),
                _segment("ORC", {1: "RE", 2: order, 3: order}),
                _segment("OBR", {1: "1", 2: order, 3: order, 4: _components("LABPANEL", "检验申请", "L"), 7: _esc(first["specimen_time"]),
                                 16: _esc(e["doctor_code"]), 22: _esc(first["result_time"]), 24: "LAB", 25: "F"})]
        for i, lab in enumerate(labs, start=1):
            body.append(_segment("OBX", {1: str(i), 2: "NM", 3: _components(lab["lab_code"], lab["lab_name"], "LN"),
                                         5: _esc(lab["value"]), 6: _esc(lab["unit"]), 7: _esc(lab["reference_range"]),
                                         8: lab["abnormal_flag"], 11: "F", 14: _esc(lab["specimen_time"]),
                                         19: _esc(lab["result_time"])}))
        return self._message(max(first["result_time"], midnight), "ORU^R01^ORU_R01", None, body, [(lab, "lab_results") for lab in labs])
