"""Document metadata from the parts every Vietnamese administrative document has (Nghị định
30/2020/NĐ-CP, Hướng dẫn 36-HD/VPTW): the letterhead (issuing body, number and symbol, place and
date), the document type and summary, and the signature block."""

from __future__ import annotations

import re
from datetime import date

from extractors.model import Block, Metadata
from extractors.outline import SIGNER_TITLES as _TITLE_WORDS, is_tail
from extractors.text import fold

DOC_TYPES = (
    "BÁO CÁO", "QUYẾT ĐỊNH", "QUY CHẾ", "QUY ĐỊNH", "TỜ TRÌNH", "CÔNG VĂN", "KẾ HOẠCH", "THÔNG BÁO",
    "NGHỊ QUYẾT", "HƯỚNG DẪN", "CHƯƠNG TRÌNH", "BIÊN BẢN", "CHỈ THỊ", "KẾT LUẬN", "ĐỀ ÁN", "TỜ KHAI",
    "ĐỀ CƯƠNG", "GIẤY MỜI", "PHIẾU TRÌNH", "ĐƠN", "DANH SÁCH",
)
_DOC_TYPE_KEYS = {fold(t): t for t in DOC_TYPES}
_NUMBER = re.compile(r"\bS[ốỐoO]\s*:?\s*(\d+[\w/\-–.]*[\wĐđ])", re.UNICODE)
_DATE = re.compile(r"(?:(?P<place>[^\n,;]{2,40}),\s*)?ngày\s+(?P<d>\d{1,2})\s+tháng\s+(?P<m>\d{1,2})\s+năm\s+(?P<y>\d{4})",
                   re.IGNORECASE)
_SHORT_DATE = re.compile(r"(?:(?P<place>[^\n,;]{2,40}),\s*)?ngày\s+(?P<d>\d{1,2})[/.\-](?P<m>\d{1,2})[/.\-](?P<y>\d{4})",
                         re.IGNORECASE)
# Superior bodies printed above the issuer in a letterhead; the issuer is the line below them.
_MOTTOS = ("dang cong san viet nam", "cong hoa xa hoi chu nghia viet nam", "doc lap tu do hanh phuc")
_SIGN_ROLES = ("t m ", "k t ", "t l ", "tm ", "kt ", "tl ", "thay mat", "ky thay", "thua lenh", "q ")


def letterhead_lines(blocks: list[Block]) -> tuple[list[str], list[str]]:
    """(left column lines, right column lines) of the letterhead: the first table or PDF column pair
    at the top, else the lines before the document type."""
    left: list[str] = []
    right: list[str] = []
    first_table = next((b.cell[0] for b in blocks[:30] if b.cell), None)
    if first_table is not None:
        for b in blocks:
            if b.cell and b.cell[0] == first_table:
                (left if b.cell[2] == 0 else right).extend(x for x in b.text.split("\n") if x.strip())
    if not left:
        for b in blocks[:12]:
            if doc_type(b.text):
                break
            left.extend(x for x in b.text.split("\n") if x.strip())
    return left, right


def doc_type(text: str) -> str | None:
    """The document type when a line is one ("BÁO CÁO", "QUYẾT ĐỊNH" ...), in its canonical spelling."""
    key = fold(text)
    if len(key.split()) > 4:
        return None
    return _DOC_TYPE_KEYS.get(key)


def _issuer(left: list[str]) -> str | None:
    names = []
    for line in left:
        key = fold(line)
        if not key or line.strip().startswith("*") or key.startswith("v v") or _NUMBER.search(line) or _DATE.search(line):
            break
        if key in _MOTTOS:
            continue
        letters = [c for c in line if c.isalpha()]
        if letters and sum(c.isupper() for c in letters) / len(letters) > 0.8:
            names.append(line.strip())
    if not names:
        return None
    # A wrapped issuer ("ĐẢNG ỦY SỞ GIÁO DỤC" / "VÀ ĐÀO TẠO") continues with a conjunction.
    issuer = names[-1]
    if len(names) > 1 and fold(issuer).startswith(("va ", "va\n")):
        issuer = f"{names[-2]} {issuer}"
    return issuer


def _date(lines: list[str]) -> tuple[str | None, date | None]:
    for line in lines:
        m = _DATE.search(line) or _SHORT_DATE.search(line)
        if m:
            try:
                when = date(int(m["y"]), int(m["m"]), int(m["d"]))
            except ValueError:
                continue
            place = (m["place"] or "").strip(" -–") or None
            return place, when
    return None, None


def _looks_like_name(line: str) -> bool:
    """A personal name as signed: 2-5 capitalized words, not a heading in capitals."""
    words = line.split()
    if not 2 <= len(words) <= 5 or any(ch.isdigit() for ch in line) or line.isupper():
        return False
    if fold(line).startswith(_SIGN_ROLES) or fold(line) in _TITLE_WORDS:
        return False
    return all(w[:1].isupper() for w in words) and not line.rstrip().endswith((":", ",", "."))


def _signature(blocks: list[Block]) -> tuple[str | None, str | None]:
    """(signer, title) from the signature block: the last personal name after T/M, K/T ... or a title."""
    tail_start = next((i for i in range(len(blocks) - 1, -1, -1) if is_tail(blocks[i])
                       and not fold(blocks[i].text).startswith(("noi nhan", "tren day la"))), None)
    lines: list[str] = []
    for b in blocks[tail_start if tail_start is not None else max(0, len(blocks) - 12):]:
        if b.cell and b.cell[2] == 0 and any(fold(x).startswith("noi nhan") for x in _cell_text(blocks, b)):
            continue  # the "Nơi nhận" column of the signature table
        lines.extend(x.strip() for x in b.text.split("\n") if x.strip())
    title = None
    for line in lines:
        key = fold(line)
        if key.startswith(_SIGN_ROLES) or key in _TITLE_WORDS:
            title = line if title is None else f"{title} {line}"
    if title is None:
        return None, None  # no signature block (a regulation issued by a decision): nobody signed here
    names = [line for line in lines if _looks_like_name(line)]
    return (names[-1] if names else None), title


def _cell_text(blocks: list[Block], block: Block) -> list[str]:
    return [b.text for b in blocks if b.cell and block.cell and b.cell[:3] == block.cell[:3]]


# OCR drops tone marks on names it has no dictionary for ("Nguyên Thị Mai" for "Nguyễn Thị Mai");
# a surname is one of a few dozen, so an OCR'd signer's first word is put back to the one it folds to.
_SURNAMES = {fold(s): s for s in (
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
    "Dương", "Lý", "Đinh", "Trịnh", "Đoàn", "Lương", "Mai", "Cao", "Lâm", "Tạ", "Hà", "Quách", "Thái")}


def _fix_ocr_surname(name: str | None) -> str | None:
    if not name:
        return name
    first, _, rest = name.partition(" ")
    surname = _SURNAMES.get(fold(first))
    return f"{surname} {rest}".strip() if surname else name


def extract_metadata(blocks: list[Block], ocr: bool = False) -> Metadata:
    body = [b for b in blocks if b.origin == "body"]
    left, right = letterhead_lines(body)
    meta = Metadata(issuer=_issuer(left))
    for line in left + right:
        m = _NUMBER.search(line)
        if m:
            meta.number = m.group(1).rstrip(".")
            break
    meta.place, meta.date = _date(right + left)
    if meta.date is None:
        meta.place, meta.date = _date([b.text for b in body[:25]])
    for i, b in enumerate(body[:40]):
        if b.cell:
            continue
        kind = doc_type(b.text)
        if kind:
            meta.doc_type = kind
            summary = []
            for nxt in body[i + 1:i + 4]:
                if nxt.cell or set(nxt.text.strip()) <= set("-–_*. ") or fold(nxt.text).startswith("can cu"):
                    break
                summary.append(nxt.text.strip())
                if len(" ".join(summary).split()) > 12:
                    break
            meta.summary = " ".join(summary) or None
            break
    meta.signer, meta.signer_title = _signature(body)
    if ocr:
        meta.signer = _fix_ocr_surname(meta.signer)
    return meta
