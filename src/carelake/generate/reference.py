"""Reference vocabularies the synthetic hospitals draw from.

Real code systems where the platform expects them (ICD-10 diagnoses, LOINC
lab tests), plus the local catalogues a Chinese hospital keeps itself
(departments, drugs, devices, professional titles) and the administrative
divisions addresses and resident ID numbers are drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass

ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
LOINC_SYSTEM = "http://loinc.org"
NATIONAL_ID_SYSTEM = "urn:oid:2.16.156.10011.1.1"  # 居民身份证号

# (ICD-10 code, Chinese name, English name): common diagnoses in Chinese hospitals and clinics.
ICD10_DIAGNOSES: tuple[tuple[str, str, str], ...] = (
    ("I10", "原发性高血压", "Essential (primary) hypertension"),
    ("E11.9", "2型糖尿病不伴有并发症", "Type 2 diabetes mellitus without complications"),
    ("E78.5", "高脂血症", "Hyperlipidaemia, unspecified"),
    ("J06.9", "急性上呼吸道感染", "Acute upper respiratory infection, unspecified"),
    ("J18.9", "肺炎", "Pneumonia, unspecified"),
    ("J20.9", "急性支气管炎", "Acute bronchitis, unspecified"),
    ("J44.9", "慢性阻塞性肺疾病", "Chronic obstructive pulmonary disease, unspecified"),
    ("J45.9", "哮喘", "Asthma, unspecified"),
    ("I25.1", "动脉粥样硬化性心脏病", "Atherosclerotic heart disease"),
    ("I20.9", "心绞痛", "Angina pectoris, unspecified"),
    ("I48.9", "心房颤动", "Atrial fibrillation and atrial flutter, unspecified"),
    ("I50.9", "心力衰竭", "Heart failure, unspecified"),
    ("I63.9", "脑梗死", "Cerebral infarction, unspecified"),
    ("K29.7", "胃炎", "Gastritis, unspecified"),
    ("K21.9", "胃食管反流病", "Gastro-oesophageal reflux disease without oesophagitis"),
    ("K80.2", "胆囊结石", "Calculus of gallbladder without cholecystitis"),
    ("K35.8", "急性阑尾炎", "Acute appendicitis, other and unspecified"),
    ("K74.6", "肝硬化", "Other and unspecified cirrhosis of liver"),
    ("B18.1", "慢性乙型病毒性肝炎", "Chronic viral hepatitis B without delta-agent"),
    ("N39.0", "泌尿道感染", "Urinary tract infection, site not specified"),
    ("N18.9", "慢性肾脏病", "Chronic kidney disease, unspecified"),
    ("N40", "前列腺增生", "Hyperplasia of prostate"),
    ("M54.5", "腰痛", "Low back pain"),
    ("M17.9", "膝关节病", "Gonarthrosis, unspecified"),
    ("M81.9", "骨质疏松", "Osteoporosis, unspecified"),
    ("E03.9", "甲状腺功能减退症", "Hypothyroidism, unspecified"),
    ("E05.9", "甲状腺功能亢进症", "Thyrotoxicosis, unspecified"),
    ("E66.9", "肥胖症", "Obesity, unspecified"),
    ("D64.9", "贫血", "Anaemia, unspecified"),
    ("F32.9", "抑郁发作", "Depressive episode, unspecified"),
    ("G43.9", "偏头痛", "Migraine, unspecified"),
    ("H25.9", "老年性白内障", "Senile cataract, unspecified"),
    ("H10.9", "结膜炎", "Conjunctivitis, unspecified"),
    ("L30.9", "皮炎", "Dermatitis, unspecified"),
    ("B34.9", "病毒感染", "Viral infection, unspecified"),
    ("A09.9", "胃肠炎", "Gastroenteritis and colitis of unspecified origin"),
    ("R50.9", "发热", "Fever, unspecified"),
    ("R10.4", "腹痛", "Other and unspecified abdominal pain"),
    ("S52.5", "桡骨下端骨折", "Fracture of lower end of radius"),
    ("S72.0", "股骨颈骨折", "Fracture of neck of femur"),
    ("C34.9", "肺恶性肿瘤", "Malignant neoplasm of bronchus or lung, unspecified"),
    ("C16.9", "胃恶性肿瘤", "Malignant neoplasm of stomach, unspecified"),
    ("U07.1", "新型冠状病毒感染", "COVID-19, virus identified"),
    ("Z00.0", "健康体检", "General medical examination"),
)

# Codes that look like diagnosis codes but are not ICD-10 (accuracy defects).
INVALID_DIAGNOSIS_CODES: tuple[str, ...] = ("X99.999", "ABC", "J45.9X9", "E11.", "I10..1", "1234", "ICD-E11")


@dataclass(frozen=True)
class LabTest:
    loinc: str
    local_code: str  # the csv_zh hospital's own LIS code
    name_en: str
    name_zh: str
    unit: str
    low: float  # reference range
    high: float
    mean: float
    sd: float
    decimals: int
    plausible_max: float  # above this (or below 0) the value is physiologically impossible

    @property
    def reference_range(self) -> str:
        return f"{self.low:.{self.decimals}f}-{self.high:.{self.decimals}f}"


LAB_TESTS: tuple[LabTest, ...] = (
    LabTest("15074-8", "L001", "Glucose [Moles/volume] in Blood", "葡萄糖", "mmol/L", 3.9, 6.1, 6.0, 1.8, 1, 60.0),
    LabTest("4548-4", "L002", "Hemoglobin A1c/Hemoglobin.total in Blood", "糖化血红蛋白", "%", 4.0, 6.0, 6.2, 1.2, 1, 25.0),
    LabTest("14682-9", "L003", "Creatinine [Moles/volume] in Serum or Plasma", "肌酐", "umol/L", 57, 111, 85, 25, 0, 3000.0),
    LabTest("6690-2", "L004", "Leukocytes [#/volume] in Blood by Automated count", "白细胞计数", "10*9/L", 3.5, 9.5, 7.0, 2.5, 2, 500.0),
    LabTest("718-7", "L005", "Hemoglobin [Mass/volume] in Blood", "血红蛋白", "g/L", 115, 175, 135, 18, 0, 260.0),
    LabTest("777-3", "L006", "Platelets [#/volume] in Blood by Automated count", "血小板计数", "10*9/L", 125, 350, 230, 60, 0, 3000.0),
    LabTest("1742-6", "L007", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "丙氨酸氨基转移酶", "U/L", 9, 50, 28, 14, 0, 20000.0),
    LabTest("1920-8", "L008", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "天门冬氨酸氨基转移酶", "U/L", 15, 40, 26, 10, 0, 20000.0),
    LabTest("14647-2", "L009", "Cholesterol [Moles/volume] in Serum or Plasma", "总胆固醇", "mmol/L", 2.8, 5.2, 4.8, 1.0, 2, 30.0),
    LabTest("14927-8", "L010", "Triglyceride [Moles/volume] in Serum or Plasma", "甘油三酯", "mmol/L", 0.56, 1.70, 1.5, 0.7, 2, 60.0),
    LabTest("22664-7", "L011", "Urea [Moles/volume] in Serum or Plasma", "尿素", "mmol/L", 3.1, 8.0, 5.5, 1.6, 1, 100.0),
    LabTest("2823-3", "L012", "Potassium [Moles/volume] in Serum or Plasma", "钾", "mmol/L", 3.5, 5.3, 4.2, 0.4, 2, 12.0),
    LabTest("2951-2", "L013", "Sodium [Moles/volume] in Serum or Plasma", "钠", "mmol/L", 137, 147, 140, 3, 0, 200.0),
    LabTest("1988-5", "L014", "C reactive protein [Mass/volume] in Serum or Plasma", "C反应蛋白", "mg/L", 0, 10, 8, 12, 1, 1000.0),
    LabTest("14933-6", "L015", "Urate [Moles/volume] in Serum or Plasma", "尿酸", "umol/L", 208, 428, 330, 80, 0, 2000.0),
)


@dataclass(frozen=True)
class Drug:
    key: str  # stable key; each hospital prefixes its own local code
    name_zh: str
    name_en: str
    dose: str
    dose_unit: str
    route: str  # Chinese prescription abbreviations: po, ih, iv, ivgtt, inhal
    frequency: str  # qd, bid, tid, qn, prn
    days: int


DRUGS: tuple[Drug, ...] = (
    Drug("0001", "二甲双胍片", "Metformin tablets", "0.5", "g", "po", "tid", 30),
    Drug("0002", "苯磺酸氨氯地平片", "Amlodipine besylate tablets", "5", "mg", "po", "qd", 30),
    Drug("0003", "阿托伐他汀钙片", "Atorvastatin calcium tablets", "20", "mg", "po", "qn", 30),
    Drug("0004", "阿司匹林肠溶片", "Aspirin enteric-coated tablets", "100", "mg", "po", "qd", 30),
    Drug("0005", "阿莫西林胶囊", "Amoxicillin capsules", "0.5", "g", "po", "tid", 7),
    Drug("0006", "头孢呋辛酯片", "Cefuroxime axetil tablets", "0.25", "g", "po", "bid", 7),
    Drug("0007", "甘精胰岛素注射液", "Insulin glargine injection", "10", "U", "ih", "qn", 30),
    Drug("0008", "奥美拉唑肠溶胶囊", "Omeprazole enteric capsules", "20", "mg", "po", "bid", 14),
    Drug("0009", "布洛芬缓释胶囊", "Ibuprofen sustained-release capsules", "0.3", "g", "po", "bid", 3),
    Drug("0010", "对乙酰氨基酚片", "Paracetamol tablets", "0.5", "g", "po", "prn", 3),
    Drug("0011", "琥珀酸美托洛尔缓释片", "Metoprolol succinate ER tablets", "47.5", "mg", "po", "qd", 30),
    Drug("0012", "氯沙坦钾片", "Losartan potassium tablets", "50", "mg", "po", "qd", 30),
    Drug("0013", "硫酸沙丁胺醇吸入气雾剂", "Salbutamol sulfate inhalation aerosol", "100", "ug", "inhal", "prn", 14),
    Drug("0014", "左氧氟沙星注射液", "Levofloxacin injection", "0.5", "g", "ivgtt", "qd", 7),
    Drug("0015", "盐酸氨溴索片", "Ambroxol hydrochloride tablets", "30", "mg", "po", "tid", 7),
    Drug("0016", "硫酸氢氯吡格雷片", "Clopidogrel bisulfate tablets", "75", "mg", "po", "qd", 30),
    Drug("0017", "0.9%氯化钠注射液", "Sodium chloride injection 0.9%", "250", "ml", "ivgtt", "qd", 3),
    Drug("0018", "左甲状腺素钠片", "Levothyroxine sodium tablets", "50", "ug", "po", "qd", 30),
    Drug("0019", "恩替卡韦片", "Entecavir tablets", "0.5", "mg", "po", "qd", 30),
    Drug("0020", "孟鲁司特钠片", "Montelukast sodium tablets", "10", "mg", "po", "qn", 14),
)

# (department name zh, name en, type, share of visits): clinical departments plus medical technology ones.
DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("内科", "Internal Medicine", "clinical"),
    ("心血管内科", "Cardiology", "clinical"),
    ("内分泌科", "Endocrinology", "clinical"),
    ("呼吸内科", "Respiratory Medicine", "clinical"),
    ("消化内科", "Gastroenterology", "clinical"),
    ("神经内科", "Neurology", "clinical"),
    ("普通外科", "General Surgery", "clinical"),
    ("骨科", "Orthopaedics", "clinical"),
    ("妇产科", "Obstetrics and Gynaecology", "clinical"),
    ("儿科", "Paediatrics", "clinical"),
    ("急诊科", "Emergency", "clinical"),
    ("眼科", "Ophthalmology", "clinical"),
    ("皮肤科", "Dermatology", "clinical"),
    ("全科医学科", "General Practice", "clinical"),
    ("检验科", "Clinical Laboratory", "medical_technology"),
    ("放射科", "Radiology", "medical_technology"),
    ("药剂科", "Pharmacy", "medical_technology"),
)
EMERGENCY_DEPARTMENT = 10  # index into DEPARTMENTS
CLINICAL_DEPARTMENTS = tuple(i for i, d in enumerate(DEPARTMENTS) if d[2] == "clinical")

TITLES: tuple[tuple[str, str], ...] = (
    ("主任医师", "Chief Physician"),
    ("副主任医师", "Associate Chief Physician"),
    ("主治医师", "Attending Physician"),
    ("住院医师", "Resident Physician"),
)

# (device name zh, type, manufacturer, model)
DEVICES: tuple[tuple[str, str, str, str], ...] = (
    ("64排螺旋CT", "CT", "United Imaging", "uCT 760"),
    ("CT扫描仪", "CT", "Siemens Healthineers", "SOMATOM go.Top"),
    ("磁共振成像系统", "MR", "GE HealthCare", "SIGNA Explorer 1.5T"),
    ("数字化X线摄影系统", "DR", "Philips", "DigitalDiagnost C90"),
    ("彩色多普勒超声诊断仪", "US", "Mindray", "Resona 7"),
    ("全自动生化分析仪", "LAB_CHEM", "Roche", "cobas c 702"),
    ("全自动血液细胞分析仪", "LAB_HEM", "Sysmex", "XN-1000"),
    ("糖化血红蛋白分析仪", "LAB_HBA1C", "Bio-Rad", "D-10"),
    ("十二导联心电图机", "ECG", "Nihon Kohden", "ECG-2350"),
    ("有创呼吸机", "VENT", "Mindray", "SV800"),
    ("输液泵", "PUMP", "B. Braun", "Infusomat Space"),
    ("多参数监护仪", "MONITOR", "Philips", "IntelliVue MX450"),
)

# Administrative divisions of the region the platform serves (6-digit codes), and of a few places migrants come from.
LOCAL_DISTRICTS: tuple[tuple[str, str, str, str], ...] = (
    ("330402", "浙江省", "嘉兴市", "南湖区"),
    ("330411", "浙江省", "嘉兴市", "秀洲区"),
    ("330421", "浙江省", "嘉兴市", "嘉善县"),
    ("330424", "浙江省", "嘉兴市", "海盐县"),
    ("330481", "浙江省", "嘉兴市", "海宁市"),
    ("330482", "浙江省", "嘉兴市", "平湖市"),
    ("330483", "浙江省", "嘉兴市", "桐乡市"),
)
BIRTHPLACE_DISTRICTS: tuple[str, ...] = tuple(d[0] for d in LOCAL_DISTRICTS) + (
    "330106",  # 杭州市西湖区
    "310104",  # 上海市徐汇区
    "320506",  # 苏州市吴中区
    "340104",  # 合肥市蜀山区
    "410102",  # 郑州市中原区
    "510104",  # 成都市锦江区
    "362502",  # 抚州市临川区
    "430602",  # 岳阳市岳阳楼区
)

# Characters a registration clerk confuses (same sound or similar shape), both directions.
_SIMILAR_PAIRS = (
    "王汪 张章 杨扬 黄皇 吴昊 周舟 徐许 孙荪 胡湖 朱珠 林琳 何河 郭国 马玛 罗萝 梁粱 宋送 郑正 谢榭 韩寒 "
    "唐塘 冯逢 于余 董懂 萧肖 程成 曹漕 袁圆 邓登 彭澎 蔡菜 潘番 田甜 伟玮 芳方 娜哪 敏闵 静靖 丽莉 强蔷 "
    "磊垒 军君 洋样 勇涌 艳燕 杰洁 娟涓 涛焘 明鸣 超昭 秀琇 霞侠 平萍 刚钢 桂贵 英瑛 华桦 玉钰 红虹 文雯 "
    "建健 国帼 志智 海诲 峰锋 晓筱 春椿 辉晖 鹏朋 斌彬 宇雨 浩皓 凯恺 丹单 琴勤 云芸 莹滢 婷亭 欣昕 鑫新"
)
SIMILAR_CHARS: dict[str, str] = {}
for _pair in _SIMILAR_PAIRS.split():
    SIMILAR_CHARS[_pair[0]] = _pair[1]
    SIMILAR_CHARS[_pair[1]] = _pair[0]

ETHNICITIES: tuple[tuple[str, float], ...] = (("汉族", 0.92), ("回族", 0.02), ("满族", 0.02), ("壮族", 0.02), ("苗族", 0.02))
