import unicodedata

import pytest

from extractors.numbering import key_number, split_number
from extractors.text import fold, normalize_tones, repair


def test_repair_fixes_the_pdf_glyph_mixup_and_normalizes():
    assert repair("ĐỀ CƢƠNG BÁO CÁO") == "ĐỀ CƯƠNG BÁO CÁO"
    assert repair("1. Ƣu điểm.") == "1. Ưu điểm."
    decomposed = unicodedata.normalize("NFD", "Đảng ủy")
    assert repair(decomposed) == "Đảng ủy" and unicodedata.is_normalized("NFC", repair(decomposed))
    assert repair("a\u00a0 b\u200b\r\nc  ") == "a b\nc"


@pytest.mark.parametrize("a, b", [
    ("quy chế dân chủ", "QUY CHE DAN CHU"),
    ("Đảng ủy", "dang uy"),
    ("hoà", "hòa"),
    ("thuý", "thúy"),
    ("ĐỀ CƢƠNG", "Đề cương"),
    ("Hạn chế, bất cập.", "han che bat cap"),
])
def test_fold_makes_the_same_key(a, b):
    assert fold(a) == fold(b)


def test_tone_placement_is_normalized_for_display_matching():
    assert normalize_tones("Hoà bình, thuý, HOÀ") == "Hòa bình, thúy, HÒA"
    assert normalize_tones("hoàng") == "hoàng"  # not at the end of a syllable: unchanged


@pytest.mark.parametrize("text, kind, value, rest", [
    ("I. TÌNH HÌNH", "roman", 1, "TÌNH HÌNH"),
    ("II - ĐÁNH GIÁ CHUNG", "roman", 2, "ĐÁNH GIÁ CHUNG"),
    ("III/ ĐỀ XUẤT", "roman", 3, "ĐỀ XUẤT"),
    ("2.Việc lãnh đạo", "arabic", 2, "Việc lãnh đạo"),
    ("3) Nguyên nhân", "arabic", 3, "Nguyên nhân"),
    ("b) Về mặt hoạt động", "letter", 2, "Về mặt hoạt động"),
    ("Phần thứ hai: KẾT QUẢ", "part", 2, "KẾT QUẢ"),
    ("- Trong tổ chức", "bullet", 0, "Trong tổ chức"),
])
def test_heading_numbers(text, kind, value, rest):
    number, remainder = split_number(text)
    assert (number.kind, number.value, remainder) == (kind, value, rest)


@pytest.mark.parametrize("text", ["2 đồng chí tham dự", "2022 là năm", "Việc quán triệt", "Văn phòng"])
def test_numbers_that_are_not_headings(text):
    assert split_number(text)[0] is None


def test_outline_keys_say_which_number_they_expect():
    assert (key_number("II").kind, key_number("II").value) == ("roman", 2)
    assert (key_number("II.3").kind, key_number("II.3").value) == ("arabic", 3)
