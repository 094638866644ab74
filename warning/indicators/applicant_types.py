"""Applicant type from the applicant's name: enterprise, university, institute, individual, other.

Rules, applied to the width-folded name with any trailing parenthetical removed
("江苏省人民医院(南京医科大学第一附属医院)" is judged as "江苏省人民医院"):

1. **The ending decides** (the longest matching suffix wins), because Chinese names end with
   their legal form: "浙江大学建筑设计研究院有限公司" is an enterprise, "中国电子科技集团公司第十六研究所"
   an institute, "中国科学院大学" a university, "上海交通大学烟台信息技术研究院" an institute.
   Endings: enterprise — 公司, 有限公司, 株式会社, 集团, 厂, 企业, 商行, 经营部, 工作室, 商店,
   门市部, 事务所, 会社, 合伙）; university — 大学, 学院, 学校, 高等专科学校, 大学城; institute — 研究院,
   研究所, 研究中心, 科学院, 设计院, 实验室, 研究室, 研究总院, 分院; other — 医院, 局, 委员会,
   协会, 学会, 政府, 部队, 支队, 大队, 站, 合作社, 联合社, 公园, 基金会, 中学, 小学, 分校, 处, 院, 所,
   部, 办公室, 馆. "株式会社" anywhere makes an enterprise ("株式会社村田制作所"); a unit ending
   (局, 所, 部, 处, 院, 站, 馆) of a name that contains 公司 is an enterprise
   ("…有限责任公司超高压输电公司百色局"), of one that names research (研究, 试验, 实验) an institute.
2. A name ending in 中心 is an institute when it also names research work (研究, 研制, 试验,
   实验, 检测, 测试, 监测, 技术, 工程), else other ("天津市生态环境监测中心" is an institute,
   "高新区问道包装设计中心" other).
3. Latin-script names: enterprise markers (Co., Ltd, Inc, Corp, GmbH, AG, S.A., LLC, plc, B.V.,
   N.V., S.p.A., SE, Aktiengesellschaft, Kabushiki Kaisha, Company, Corporation, Limited, Oy,
   AB, Holding, Group, Industries, Technologies) win;
   then university (University, Universität, Université, College, Institute of Technology,
   École, Hochschule), institute (Institute, Institut, Laboratory, Academy, Research, Fraunhofer,
   CNRS, Centre National), other (Hospital, Foundation, Government, Ministry, Agency, Council);
   a name of two to four words without any marker is an individual.
4. A CJK name of two to four characters without any marker (compound surnames included:
   "慕容红梅", "司徒志成"), or a transliterated name with "·", is an **individual**.
5. Anything else: by a marker anywhere in the name (公司 -> enterprise, 大学/学院 -> university,
   研究 -> institute), else other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from warning.applicants import fold_width

TYPES: tuple[str, ...] = ("enterprise", "university", "institute", "individual", "other")
TYPE_ZH = {
    "enterprise": "企业",
    "university": "大专院校",
    "institute": "科研机构",
    "individual": "个人",
    "other": "机关团体及其他",
}

_ENDINGS: tuple[tuple[str, str], ...] = tuple(
    sorted(
        [
            *(
                (s, "enterprise")
                for s in (
                    "公司",
                    "有限公司",
                    "株式会社",
                    "集团",
                    "厂",
                    "企业",
                    "商行",
                    "经营部",
                    "工作室",
                    "商店",
                    "门市部",
                    "事务所",
                    "会社",
                    "合伙)",
                    "合伙企业",
                    "分厂",
                    "车间",
                )
            ),
            *(
                (s, "university")
                for s in ("大学", "学院", "学校", "高等专科学校", "大学城", "党校")
            ),
            *(
                (s, "institute")
                for s in (
                    "研究院",
                    "研究所",
                    "研究中心",
                    "科学院",
                    "设计院",
                    "实验室",
                    "研究室",
                    "研究总院",
                    "分院",
                    "研究基地",
                    "重点实验室",
                    "工程院",
                )
            ),
            *(
                (s, "other")
                for s in (
                    "医院",
                    "局",
                    "委员会",
                    "协会",
                    "学会",
                    "政府",
                    "部队",
                    "支队",
                    "大队",
                    "站",
                    "合作社",
                    "联合社",
                    "公园",
                    "基金会",
                    "中学",
                    "小学",
                    "分校",
                    "幼儿园",
                    "处",
                    "院",
                    "所",
                    "部",
                    "办公室",
                    "馆",
                    "中队",
                    "保健院",
                    "联合会",
                    "管理处",
                    "总站",
                    "社区",
                    "村民委员会",
                    "办事处",
                )
            ),
        ],
        key=lambda p: -len(p[0]),
    )
)
#: endings that name a unit of something larger (a company's 局, an academy's 站)
_WEAK_ENDINGS = frozenset({"局", "所", "部", "处", "院", "站", "馆"})
_RESEARCH = ("研究", "研制", "试验", "实验", "检测", "测试", "监测", "技术", "工程")
_LATIN_ENTERPRISE = re.compile(
    r"\b(co|ltd|inc|corp|gmbh|ag|s\.?a|llc|plc|b\.?v|n\.?v|s\.?p\.?a|kabushiki|kaisha|company|"
    r"corporation|limited|oy|ab|industries|incorporated|s\.?r\.?l|sas|kg|kgaa|k\.?k|se|"
    r"aktiengesellschaft|holdings?|group|a/s|pty|sarl|technologies)\b\.?",
    re.IGNORECASE,
)
_LATIN_UNIVERSITY = re.compile(
    r"universit|college|institute of technology|[ée]cole|hochschule", re.IGNORECASE
)
_LATIN_INSTITUTE = re.compile(
    r"institut|laborator|academy|research|fraunhofer|cnrs|centre national|center for",
    re.IGNORECASE,
)
_LATIN_OTHER = re.compile(r"hospital|foundation|government|ministry|agency|council", re.IGNORECASE)
_CJK = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
_TRANSLITERATED = re.compile(r"^[\u4e00-\u9fffA-Za-z]+(?:[·・•][\u4e00-\u9fffA-Za-z]+)+$")
_TRAILING_PAREN = re.compile(r"\s*[（(][^（()）]*[）)]\s*$")


def applicant_type(name: str) -> str:
    """One of :data:`TYPES` for an applicant name (see the module docstring for the rules)."""
    text = fold_width(name).strip(" ;；,，")
    while True:
        stripped = _TRAILING_PAREN.sub("", text)
        if stripped == text or not stripped:
            break
        text = stripped
    if not text:
        return "other"
    if re.search(r"[A-Za-z]", text) and not re.search(r"[\u4e00-\u9fff]", text):
        return _latin_type(text)
    if text.endswith("中心"):
        return "institute" if any(w in text for w in _RESEARCH) else "other"
    if "株式会社" in text:
        return "enterprise"
    for suffix, kind in _ENDINGS:
        if text.endswith(suffix):
            if kind == "other" and suffix in _WEAK_ENDINGS:
                if "公司" in text:
                    return "enterprise"
                if any(w in text for w in ("研究", "试验", "实验")):
                    return "institute"
            return kind
    if _CJK.match(text) or _TRANSLITERATED.match(text):
        return "individual"
    if "公司" in text:
        return "enterprise"
    if "大学" in text or "学院" in text:
        return "university"
    if "研究" in text:
        return "institute"
    return "other"


def _latin_type(text: str) -> str:
    if _LATIN_ENTERPRISE.search(text):
        return "enterprise"
    if _LATIN_UNIVERSITY.search(text):
        return "university"
    if _LATIN_INSTITUTE.search(text):
        return "institute"
    if _LATIN_OTHER.search(text):
        return "other"
    words = [w for w in re.split(r"[\s,]+", text) if w]
    return "individual" if 2 <= len(words) <= 4 else "other"


def document_type(names: Iterable[str]) -> str:
    """A document's applicant type: that of its first applicant (``other`` without any)."""
    for name in names:
        return applicant_type(name)
    return "other"
