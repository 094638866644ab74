import pytest

from warning.applicants import city_of, country_of, is_foreign, normalize_applicant
from warning.ipc import normalize_ipc, normalize_ipc_list
from warning.records import split_number


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("C21D 8/12(2006.01)I", "C21D8/12"),
        ("C21D0008120000", "C21D8/12"),
        ("H01L  31/18", "H01L31/18"),
        ("G06F3/0481(2013.01)I", "G06F3/0481"),
        ("Ｃ２２Ｃ３８／０２", "C22C38/02"),
        ("B21B", "B21B"),
        ("01-01 (11)", None),
        ("", None),
    ],
)
def test_ipc_symbols_normalise(raw, want):
    assert normalize_ipc(raw) == want


def test_multi_valued_ipc_field_with_broken_separators():
    assert normalize_ipc_list("C21D8/12(2006.01)I??H01F1/147(2006.01)I;C21D8/12") == [
        "C21D8/12",
        "H01F1/147",
    ]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("鞍钢股份有限公司", "鞍钢集团公司"),
        ("POSCO Co., Ltd.", "ＰＯＳＣＯ"),
        ("新日铁住金株式会社", "新日铁住金"),
        ("JFE Steel Corporation", "JFE STEEL CORP."),
    ],
)
def test_company_spellings_share_one_key(a, b):
    assert normalize_applicant(a) == normalize_applicant(b)


def test_universities_keep_their_name():
    assert normalize_applicant("东北大学") == "东北大学"


def test_applicant_location():
    assert country_of("114021 辽宁省鞍山市铁东区南胜利路") == "CN"
    assert city_of("114021 辽宁省鞍山市铁东区南胜利路") == "鞍山"
    assert is_foreign("日本国东京都千代田区")
    assert not is_foreign("100083 北京市海淀区")


def test_publication_numbers_split_into_office_number_kind():
    assert split_number("CN115212463A") == ("CN", "115212463", "A")
    assert split_number("US 8930553 B2") == ("US", "8930553", "B2")
