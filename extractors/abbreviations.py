"""The standard abbreviations of Vietnamese Party and state administration, for matching.

Reports write "UBND các địa phương" where the outline says "Ủy ban nhân dân các xã, phường, đặc
khu", "BCĐ" for "Ban Chỉ đạo", "KT-XH" for "kinh tế - xã hội". Matching expands them on folded keys
(DESIGN.md §5), on both sides, so a heading and a title compare equally however each is written.

Only abbreviations whose folded form can never be a Vietnamese syllable are listed ("ubnd", "bcd",
"tw"): a folded word is expanded without looking at its case, so "ĐU" (folds to "du", as "dự" does)
and "TU" ("tư", "từ") are left out. Where an abbreviation has two readings the Party one is taken
("CB, ĐV": cán bộ, đảng viên), as the office receiving these reports is a Party committee's.
"""

from __future__ import annotations

from extractors.text import fold

# as written -> in full; folded once below
_TABLE = {
    "UBND": "Ủy ban nhân dân",
    "HĐND": "Hội đồng nhân dân",
    "MTTQ": "Mặt trận Tổ quốc",
    "UBMTTQ": "Ủy ban Mặt trận Tổ quốc",
    "UBKT": "Ủy ban Kiểm tra",
    "BCĐ": "Ban Chỉ đạo",
    "BCH": "Ban Chấp hành",
    "BTV": "Ban Thường vụ",
    "BCS": "Ban cán sự",
    "ĐUK": "Đảng ủy Khối",
    "TW": "Trung ương",
    "NQ": "Nghị quyết",
    "QĐ": "Quyết định",
    "NĐ": "Nghị định",
    "CP": "Chính phủ",
    "TTg": "Thủ tướng",
    "CCHC": "cải cách hành chính",
    "TTHC": "thủ tục hành chính",
    "CB": "cán bộ",
    "ĐV": "đảng viên",
    "CBCC": "cán bộ, công chức",
    "CBCCVC": "cán bộ, công chức, viên chức",
    "CNVC": "công nhân viên chức",
    "TCCSĐ": "tổ chức cơ sở đảng",
    "QCDC": "quy chế dân chủ",
    "DCCS": "dân chủ ở cơ sở",
    "CNTT": "công nghệ thông tin",
    "CĐS": "chuyển đổi số",
    "HTX": "hợp tác xã",
    "VN": "Việt Nam",
    "TP": "thành phố",
    "KT-XH": "kinh tế - xã hội",
    "QP-AN": "quốc phòng - an ninh",
    "ANTT": "an ninh trật tự",
}


def _build() -> dict[tuple[str, ...], list[str]]:
    table = {}
    for short, full in _TABLE.items():
        table[tuple(fold(short).split())] = fold(full).split()
    return table


_EXPANSIONS = _build()
_LONGEST = max(len(k) for k in _EXPANSIONS)
_FIRST_WORDS = {k[0] for k in _EXPANSIONS}  # most words start no abbreviation: no lookups for them


def expand(words: list[str]) -> list[str]:
    """Folded words with every abbreviation written out: ["ubnd", "cac"] -> ["uy", "ban", "nhan", "dan", "cac"]."""
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i] not in _FIRST_WORDS:
            out.append(words[i])
            i += 1
            continue
        for n in range(min(_LONGEST, len(words) - i), 0, -1):
            full = _EXPANSIONS.get(tuple(words[i:i + n]))
            if full is not None:
                out.extend(full)
                i += n
                break
        else:
            out.append(words[i])
            i += 1
    return out
