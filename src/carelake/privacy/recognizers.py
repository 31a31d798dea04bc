"""Presidio recognizers for Chinese health data.

==========================  ===========================================================================
entity                      how it is found
==========================  ===========================================================================
CN_RESIDENT_ID              18 characters (6-digit area, a real birth date, 3-digit sequence, check
                            character) whose ISO 7064 MOD 11-2 check character matches (GB 11643-1999;
                            a wrong one is dropped), or the 15-digit legacy number (a real ``yyMMdd``)
CN_PHONE                    mainland mobile ``1[3-9]`` + 9 digits (optional ``+86`` / ``0086``, spaces or
                            dashes in 3-4-4) and landlines ``0xx(x)-xxxxxxx(x)``
MEDICAL_RECORD_NUMBER       per source, the regex of its patient ids (``source_patterns`` of
MEDICAL_INSURANCE_NO        metadata/privacy/deidentification.yml)
CN_PERSON                   a common Chinese surname + 1-2 characters, after a context word (患者, 姓名,
                            家属, 其妻, patient, wife...) or before a title (先生, 女士, 医生), or as a lone
                            run of Han characters inside Latin text
CN_ADDRESS                  province / city / district + a road, street or lane, with house number,
                            building, unit and room
==========================  ===========================================================================

Regex ``\\b`` fails next to Chinese characters (they are word characters), so every pattern uses
look-arounds such as ``(?<![0-9A-Za-z])``.
"""

from __future__ import annotations

import re
from datetime import date

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from carelake.generate import resident_id

LANGUAGE = "en"  # every text is analysed under one Presidio language (there is no Chinese spaCy model offline)

# the common surnames of mainland China (single and compound), most frequent first where it matters
SURNAMES_SINGLE = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢"
    "安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路"
    "游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全"
    "佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚"
    "鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈"
    "晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉"
    "冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由萧傅阎赖洪"
)
SURNAMES_COMPOUND = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙",
                     "宇文", "司徒", "轩辕", "端木", "西门", "南宫", "独孤", "呼延")
NAME_CONTEXT_BEFORE = ("患者", "病人", "姓名", "家属", "联系人", "监护人", "陪同人", "其妻", "其夫", "其子", "其女",
                       "其母", "其父", "之子", "之女", "配偶", "主治医生", "主治医师", "医师", "医生", "记录人", "签名")
NAME_CONTEXT_AFTER = ("先生", "女士", "医生", "医师", "主任", "护士", "老师", "同志")
NAME_CONTEXT_EN = ("patient", "name", "wife", "husband", "son", "daughter", "mother", "father", "relative",
                   "contact", "spouse", "mr", "mrs", "ms", "dr", "doctor", "by", "signed")
# characters that often follow a name in a sentence (陪同, 来院, 于, 因, 诉, 称, 代签, 同意...)
NAME_FOLLOWERS = "陪来于因诉在称代签同表要述是为的和及与等"
PROVINCES = ("北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建",
             "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
             "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门")

_HAN = "\u4e00-\u9fff"
_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"
_DATE8 = r"(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_DATE6 = r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


class ResidentIdRecognizer(PatternRecognizer):
    """居民身份证号: 18 characters with a valid check character, or the 15-digit legacy number."""

    ENTITY = "CN_RESIDENT_ID"

    def __init__(self):
        patterns = [
            Pattern("cn_resident_id_18", rf"{_NOT_ALNUM_BEFORE}[1-9]\d{{5}}{_DATE8}\d{{3}}[0-9Xx]{_NOT_ALNUM_AFTER}", 0.5),
            Pattern("cn_resident_id_15", rf"{_NOT_ALNUM_BEFORE}[1-9]\d{{5}}{_DATE6}\d{{3}}{_NOT_ALNUM_AFTER}", 0.4),
        ]
        super().__init__(supported_entity=self.ENTITY, patterns=patterns, supported_language=LANGUAGE,
                         context=["身份证", "身份证号", "证件号", "id", "identity", "resident"], name="ResidentIdRecognizer")

    def validate_result(self, pattern_text: str) -> bool | None:
        if len(pattern_text) == 18:
            return resident_id.is_valid(pattern_text) and _real_date(int(pattern_text[6:10]), int(pattern_text[10:12]),
                                                                     int(pattern_text[12:14]))
        return _real_date(1900 + int(pattern_text[6:8]), int(pattern_text[8:10]), int(pattern_text[10:12]))


class ChinesePhoneRecognizer(PatternRecognizer):
    """Mainland mobile (1[3-9]x xxxx xxxx, optional +86 / 0086) and landline (0xx-xxxxxxxx) numbers."""

    ENTITY = "CN_PHONE"

    def __init__(self):
        sep = r"[- ]?"
        patterns = [
            Pattern("cn_mobile", rf"(?<![0-9A-Za-z+])(?:(?:\+|00)86{sep})?1[3-9]\d{sep}\d{{4}}{sep}\d{{4}}(?!\d)", 0.7),
            Pattern("cn_landline", r"(?<![0-9A-Za-z])(?:\(0\d{2,3}\)|0\d{2,3}-)\s?[2-9]\d{6,7}(?![0-9])", 0.6),
        ]
        super().__init__(supported_entity=self.ENTITY, patterns=patterns, supported_language=LANGUAGE,
                         context=["电话", "手机", "联系", "phone", "tel", "mobile", "call"], name="ChinesePhoneRecognizer")


def source_pattern_recognizers(source_patterns: dict[str, dict[str, str]]) -> list[PatternRecognizer]:
    """One recognizer per entity of ``source_patterns`` ({entity: {source or rule name: regex}})."""
    return [
        PatternRecognizer(
            supported_entity=entity,
            patterns=[Pattern(f"{entity.lower()}_{name}", rf"{_NOT_ALNUM_BEFORE}(?:{regex}){_NOT_ALNUM_AFTER}", 0.6)
                      for name, regex in sorted(patterns.items())],
            supported_language=LANGUAGE, name=f"SourcePattern_{entity}")
        for entity, patterns in sorted(source_patterns.items())
    ]


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


class ChineseNameRecognizer(EntityRecognizer):
    """Chinese personal names: a surname and 1-2 given characters, found in context.

    Without a Chinese word segmenter, a name's end is where the text stops being a name: punctuation,
    a non-Han character or a title (先生, 女士...). A name is accepted after a context word, before a
    title, or when it is a lone 2-3 character Han run in Latin text (English notes quoting a name).
    """

    ENTITY = "CN_PERSON"

    def __init__(self):
        super().__init__(supported_entities=[self.ENTITY], supported_language=LANGUAGE, name="ChineseNameRecognizer")

    def load(self) -> None:
        surname = f"(?:{_alternation(SURNAMES_COMPOUND)}|[{SURNAMES_SINGLE}])"
        name = rf"(?P<name>{surname}[{_HAN}]{{1,2}}?)"
        title_after = _alternation(NAME_CONTEXT_AFTER)
        end = rf"(?=(?:{title_after})|[{NAME_FOLLOWERS}]|[^{_HAN}]|$)"
        self.patterns = [
            (re.compile(rf"(?:{_alternation(NAME_CONTEXT_BEFORE)})[:：\s]*{name}{end}"), 0.85),
            (re.compile(rf"(?<![{_HAN}]){name}(?={title_after})"), 0.8),
            (re.compile(rf"(?i:(?<![A-Za-z])(?:{_alternation(NAME_CONTEXT_EN)})\.?)[:\s]*{name}(?![{_HAN}])"), 0.85),
            (re.compile(rf"(?:(?<=[A-Za-z0-9,.;:()]\s)|(?<=[A-Za-z0-9,.;:()])){name}(?![{_HAN}])"), 0.6),
        ]

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        found: dict[tuple[int, int], float] = {}
        for regex, score in self.patterns:
            for match in regex.finditer(text):
                span = match.span("name")
                found[span] = max(score, found.get(span, 0.0))
        return [RecognizerResult(self.ENTITY, start, end, score,
                                 recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                                       RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id})
                for (start, end), score in sorted(found.items())]


class ChineseAddressRecognizer(PatternRecognizer):
    """Chinese addresses: [province][city][district] + road/street/lane [+ number, building, unit, room]."""

    ENTITY = "CN_ADDRESS"

    def __init__(self):
        han = f"[{_HAN}]"
        detail = rf"(?:{han}{{1,10}}?(?:路|街|大道|道|巷|弄|村|镇|乡))(?:\d+(?:号|弄))?(?:\d+(?:幢|栋|号楼))?(?:\d+单元)?(?:\d+室)?"
        admin = rf"(?:{han}{{1,6}}?(?:市|州|盟))?(?:{han}{{1,6}}?(?:区|县|旗))?"
        patterns = [
            Pattern("cn_address_province", rf"(?:{_alternation(PROVINCES)})(?:省|市|自治区|维吾尔自治区|壮族自治区|回族自治区)?{admin}{detail}", 0.75),
            Pattern("cn_address_city", rf"(?:(?<=[:：\s,，;；(（])|(?<=住址|地址|家住|住在|居住|现住)){han}{{2,6}}?市{admin}{detail}", 0.7),
        ]
        super().__init__(supported_entity=self.ENTITY, patterns=patterns, supported_language=LANGUAGE,
                         context=["住址", "地址", "家住", "address"], name="ChineseAddressRecognizer")


def chinese_recognizers(source_patterns: dict[str, dict[str, str]]) -> list[EntityRecognizer]:
    """The custom recognizers, ready for ``RecognizerRegistry.add_recognizer``."""
    return [ResidentIdRecognizer(), ChinesePhoneRecognizer(), ChineseNameRecognizer(), ChineseAddressRecognizer(),
            *source_pattern_recognizers(source_patterns)]
