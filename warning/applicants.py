"""Applicant-name normalisation and location: one company, one key.

Legal-form suffixes (股份有限公司, 株式会社, Co., Ltd., GmbH ...) and full/half-width
differences are folded so that rules and indicators see one applicant, not five spellings.
"""

from __future__ import annotations

import re
import unicodedata

_SUFFIXES_ZH = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团公司",
    "集团",
    "株式会社",
    "总公司",
    "公司",
    "研究院",
    "研究所",
)
_SUFFIXES_EN = (
    r"co\.?,?\s*ltd\.?",
    r"company\s+limited",
    r"co\.?",
    r"ltd\.?",
    r"limited",
    r"inc\.?",
    r"incorporated",
    r"corp\.?",
    r"corporation",
    r"gmbh",
    r"ag",
    r"s\.?a\.?",
    r"plc",
    r"llc",
    r"l\.?l\.?c\.?",
    r"kabushiki\s+kaisha",
    r"k\.?k\.?",
    r"b\.?v\.?",
    r"n\.?v\.?",
    r"s\.?p\.?a\.?",
    r"oy",
    r"ab",
    r"as",
    r"sas",
    r"s\.?r\.?l\.?",
)
_EN_SUFFIX_RE = re.compile(r"(?:[\s,]+(?:" + "|".join(_SUFFIXES_EN) + r"))+\s*$", re.IGNORECASE)
_KEEP_SUFFIX_ZH = ("大学", "学院")

#: countries by name fragment in an address or an applicant name (CN addresses give provinces)
_FOREIGN_MARKERS = {
    "日本": "JP",
    "japan": "JP",
    "韩国": "KR",
    "korea": "KR",
    "美国": "US",
    "united states": "US",
    "usa": "US",
    "德国": "DE",
    "germany": "DE",
    "法国": "FR",
    "france": "FR",
    "英国": "GB",
    "united kingdom": "GB",
    "瑞典": "SE",
    "sweden": "SE",
    "瑞士": "CH",
    "switzerland": "CH",
    "荷兰": "NL",
    "netherlands": "NL",
    "意大利": "IT",
    "italy": "IT",
    "奥地利": "AT",
    "austria": "AT",
    "芬兰": "FI",
    "finland": "FI",
    "比利时": "BE",
    "belgium": "BE",
    "加拿大": "CA",
    "canada": "CA",
    "澳大利亚": "AU",
    "australia": "AU",
    "印度": "IN",
    "india": "IN",
    "新加坡": "SG",
    "singapore": "SG",
    "以色列": "IL",
    "israel": "IL",
    "俄罗斯": "RU",
    "russia": "RU",
    "卢森堡": "LU",
    "luxembourg": "LU",
    "丹麦": "DK",
    "denmark": "DK",
    "挪威": "NO",
    "norway": "NO",
    "西班牙": "ES",
    "spain": "ES",
    "中国台湾": "TW",
    "台湾": "TW",
    "taiwan": "TW",
    "香港": "HK",
    "hong kong": "HK",
}
_CN_PROVINCES = (
    "北京",
    "天津",
    "河北",
    "山西",
    "内蒙古",
    "辽宁",
    "吉林",
    "黑龙江",
    "上海",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "广西",
    "海南",
    "重庆",
    "四川",
    "贵州",
    "云南",
    "西藏",
    "陕西",
    "甘肃",
    "青海",
    "宁夏",
    "新疆",
)
_CITY = re.compile(r"(?:省|自治区)?([\u4e00-\u9fff]{2,4}?)市")


def fold_width(text: str) -> str:
    """Full-width to half-width and compatibility forms folded (NFKC), spaces collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def normalize_applicant(name: str) -> str:
    """The matching key of an applicant name: width-folded, lower-case, legal suffixes removed."""
    text = fold_width(name).lower()
    text = re.sub(r"[（(][^）)]*[）)]\s*$", "", text).strip()  # trailing parenthetical, e.g. (中国)
    previous = None
    while previous != text:
        previous = text
        text = _EN_SUFFIX_RE.sub("", text).strip(" ,.")
        if not text.endswith(_KEEP_SUFFIX_ZH):
            for suffix in _SUFFIXES_ZH:
                if text.endswith(suffix) and len(text) > len(suffix) + 1:
                    text = text[: -len(suffix)]
                    break
    return text.strip(" ,.、")


def country_of(address: str | None, name: str = "", default: str | None = None) -> str | None:
    """ISO country of an applicant from its address (or name), CN for Chinese provinces."""
    for text in (address or "", name):
        low = fold_width(text).lower()
        if not low:
            continue
        for marker, code in _FOREIGN_MARKERS.items():
            if marker in low:
                return code
        if any(p in low for p in _CN_PROVINCES) or re.match(r"^\d{6}", low):
            return "CN"
    return default


def province_of(address: str | None) -> str | None:
    text = fold_width(address or "")
    for province in _CN_PROVINCES:
        if province in text:
            return province
    return None


def city_of(address: str | None) -> str | None:
    text = re.sub(r"^\d{6}\s*", "", fold_width(address or ""))
    for province in _CN_PROVINCES:
        if text.startswith(province):
            text = text[len(province) :]
            break
    match = _CITY.search(text)
    return match.group(1) if match else None


def is_foreign(address: str | None, name: str = "", office: str = "CN") -> bool:
    """True when the applicant is outside China (HK/TW count as outside mainland filings)."""
    country = country_of(address, name, default="CN" if office == "CN" else None)
    return country is not None and country != "CN"
