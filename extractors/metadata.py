"""Document metadata from the parts every Vietnamese administrative document has (Nghị định
30/2020/NĐ-CP, Hướng dẫn 36-HD/VPTW): the letterhead (issuing body, number and symbol, place and
date), the document type and summary, and the signature block."""

from __future__ import annotations

import re
from datetime import date

from extractors.model import Block, Metadata
from extractors.outline import SIGNER_TITLES as _TITLE_WORDS
from extractors.outline import is_tail
from extractors.text import fold

DOC_TYPES = (
    "BÁO CÁO", "QUYẾT ĐỊNH", "QUY CHẾ", "QUY ĐỊNH", "TỜ TRÌNH", "CÔNG VĂN", "KẾ HOẠCH", "THÔNG BÁO",
    "NGHỊ QUYẾT", "HƯỚNG DẪN", "CHƯƠNG TRÌNH", "BIÊN BẢN", "CHỈ THỊ", "KẾT LUẬN", "ĐỀ ÁN", "TỜ KHAI",
    "ĐỀ CƯƠNG", "GIẤY MỜI", "PHIẾU TRÌNH", "ĐƠN", "DANH SÁCH",
)
_DOC_TYPE_KEYS = {fold(t): t for t in DOC_TYPES}
_DOC_TYPE_LETTERS = {key.replace(" ", ""): t for key, t in _DOC_TYPE_KEYS.items()}  # letter-spaced titles
_NUMBER = re.compile(r"\bS[ốỐoO]\s*:?\s*(\d+[\w/\-–.]*[\wĐđ])", re.UNICODE)
_DATE = re.compile(r"(?:(?P<place>[^\n,;]{2,40}),\s*)?"
                   r"ngày\s+(?P<d>\d{1,2})\s+tháng\s+(?P<m>\d{1,2})\s+năm\s+(?P<y>\d{4})", re.IGNORECASE)
_SHORT_DATE = re.compile(r"(?:(?P<place>[^\n,;]{2,40}),\s*)?"
                         r"ngày\s+(?P<d>\d{1,2})[/.\-](?P<m>\d{1,2})[/.\-](?P<y>\d{4})", re.IGNORECASE)
_DATE_HEAD = re.compile(r"ngày\s+\d{1,2}\s+tháng\s+\d{1,2}\s*$", re.IGNORECASE)
_YEAR_LINE = re.compile(r"\s*năm\s+\d{4}\b", re.IGNORECASE)
# Superior bodies printed above the issuer in a letterhead; the issuer is the line below them.
_MOTTOS = ("dang cong san viet nam", "cong hoa xa hoi chu nghia viet nam", "doc lap tu do hanh phuc")
# How the names of bodies begin (folded): Party organisations, People's Committees and Councils, the
# agencies under them. A capitals line that begins otherwise continues the name on the line above.
_PARTY_BODIES = ("dang bo ", "dang uy ", "chi bo ", "chi uy ")
_STATE_SUPERIORS = ("uy ban nhan dan ", "ubnd ", "hoi dong nhan dan ")
_AGENCIES = ("so ", "ban ", "van phong ", "phong ", "thanh tra ", "chi cuc ", "cuc ", "truong ", "trung tam ",
             "benh vien ", "hoi ", "doan ")
_BODY_HEADS = (*_PARTY_BODIES, *_STATE_SUPERIORS, *_AGENCIES, "dang ", "uy ban", "tinh uy", "huyen uy", "thanh uy",
               "quan uy", "bo ", "tong ", "cong ty", "lien ", "mat tran", "cong doan")
_SIGN_ROLES = ("t m ", "k t ", "t l ", "tm ", "kt ", "tl ", "thay mat", "ky thay", "thua lenh", "q ")


def _letterhead(body: list[Block], title: int | None) -> tuple[list[str], list[str]]:
    """(left column lines, right column lines) of the letterhead: the first table (or PDF column pair)
    above the type line, else the lines above it in whatever order they came."""
    head = body[:title] if title is not None else body[:12]
    table = next((b.cell[0] for b in head if b.cell), None)
    left: list[str] = []
    right: list[str] = []
    if table is not None:
        for i, b in enumerate(body):
            if b.cell and b.cell[0] == table and i != title:
                (left if b.cell[2] == 0 else right).extend(x for x in b.text.split("\n") if x.strip())
    if not left:
        left = [x for b in head for x in b.text.split("\n") if x.strip()]
    return left, right


def doc_type(text: str) -> str | None:
    """The document type when a line is one ("BÁO CÁO", "QUYẾT ĐỊNH", "Q U Y  C H Ế" ...), in its
    canonical spelling."""
    key = fold(text)
    words = key.split()
    if len(words) > 4 and not all(len(w) == 1 for w in words):
        return None
    return _DOC_TYPE_KEYS.get(key) or _DOC_TYPE_LETTERS.get(key.replace(" ", ""))


def _type_line(blocks: list[Block]) -> int | None:
    """Index of the type line: the first block that is one, or whose first line is (a type and its
    summary in one paragraph). A title a PDF reader took into a letterhead column counts too."""
    return next((i for i, b in enumerate(blocks) if doc_type(b.text.split("\n", 1)[0])), None)


def _summary(body: list[Block], title: int) -> str | None:
    """The lines after the type line that say what the document is about ("Sơ kết 01 năm ...")."""
    block = body[title]
    summary = [rest.strip() for rest in block.text.split("\n")[1:] if rest.strip()]
    previous = None
    for nxt in body[title + 1:title + 4]:
        text = nxt.text.strip()
        if (len(" ".join(summary).split()) > 12 or _cell_column(nxt) != _cell_column(block)
                or set(text) <= set("-–_*. ") or fold(text).startswith(("can cu", "kinh gui"))
                or text.startswith("(") and text.endswith(")")  # "(Ban hành kèm theo ...)"
                or previous and nxt.align == "justify" != previous.align):  # the body begins
            break
        summary.append(text)
        previous = nxt
    return " ".join(summary) or None


def _cell_column(block: Block) -> tuple[int, int] | None:
    return (block.cell[0], block.cell[2]) if block.cell else None


def _issuer(lines: list[str]) -> str | None:
    """The last name in capitals above the number: the left column of the letterhead, or its lines in
    whatever order the two columns came out (the motto, the date and the "*" are skipped, not ends)."""
    names = []
    for line in lines:
        key = fold(line)
        if key.startswith("v v") or _NUMBER.search(line):
            break
        if not key or _is_motto(key) or _DATE.search(line) or _SHORT_DATE.search(line):
            continue
        letters = [c for c in line if c.isalpha()]
        if letters and sum(c.isupper() for c in letters) / len(letters) > 0.8:
            names.append(line.strip())
    if not names:
        return None
    # A wrapped issuer ("ĐẢNG ỦY SỞ GIÁO DỤC" / "VÀ ĐÀO TẠO", "CHI BỘ SỞ CÔNG" / "THƯƠNG") continues
    # with words that cannot begin the name of a body.
    issuer = names[-1]
    if len(names) > 1 and not fold(issuer).startswith(_BODY_HEADS):
        issuer = f"{names[-2]} {issuer}"
    return _below_superior(issuer)


def _below_superior(name: str) -> str:
    """The issuer alone when a scan ran its superior body into it ("ĐẢNG BỘ KHỐI CÁC CƠ QUAN TỈNH
    CHI BỘ SỞ CÔNG THƯƠNG", "ỦY BAN NHÂN DÂN TỈNH SỞ NỘI VỤ"): from the last Party body it names,
    or from the agency named after a People's Committee."""
    words = name.split()
    keys = [fold(w) for w in words]
    text = " ".join(keys)
    starts = [i for i in range(1, len(words)) if " ".join(keys[i:]).startswith(_PARTY_BODIES)]
    if not text.startswith(_PARTY_BODIES):
        starts = []  # "BAN THƯỜNG VỤ ĐẢNG ỦY KHỐI" is one name
    if not starts and text.startswith(_STATE_SUPERIORS):
        starts = [i for i in range(3, len(words)) if " ".join(keys[i:]).startswith(_AGENCIES)][:1]
    return " ".join(words[starts[-1]:]) if starts else name


def _is_motto(key: str) -> bool:
    """A motto line, or a piece of one wrapped in a narrow cell ("CỘNG HÒA XÃ HỘI CHỦ" / "NGHĨA VIỆT NAM")."""
    return any(f" {key} " in f" {motto} " for motto in _MOTTOS)


def _date(lines: list[str]) -> tuple[str | None, date | None]:
    """Place and date of the first date in `lines`, read as one text: a date line wrapped in a narrow
    cell ("Thanh Hóa, ngày 3 tháng 6" / "năm 2022") is still one date, even with a line of the other
    column between its two parts."""
    place, when = _first_date("\n".join(lines))
    for i, line in enumerate(lines):
        if when is not None:
            break
        if _DATE_HEAD.search(line):
            year = next((x for x in lines[i + 1:i + 4] if _YEAR_LINE.match(x)), None)
            if year:
                place, when = _first_date(f"{line} {year}")
    return place, when


def _first_date(text: str, starts_line: bool = False) -> tuple[str | None, date | None]:
    for pattern in (_DATE, _SHORT_DATE):
        for m in pattern.finditer(text):
            if starts_line and m.start() and text[m.start() - 1] != "\n":
                continue
            try:
                when = date(int(m["y"]), int(m["m"]), int(m["d"]))
            except ValueError:
                continue
            return (m["place"] or "").strip(" -–") or None, when
    return None, None


def _head_date(blocks: list[Block]) -> tuple[str | None, date | None]:
    """The date of a document whose letterhead gave none: a date line of its own near the top (the
    letterhead's columns came out as separate lines), else the date of the decision a regulation is
    "ban hành kèm theo". A date cited in a sentence ("Căn cứ Luật ... ngày 13/11/2008") is not it."""
    place, when = _first_date("\n".join(b.text for b in blocks), starts_line=True)
    if when is None:
        issued_with = [b.text for b in blocks if fold(b.text).startswith("ban hanh kem theo")]
        if issued_with:
            when = _first_date(issued_with[0])[1]
    return place, when


def _looks_like_name(line: str) -> bool:
    """A personal name as signed: 2-5 capitalized words, not a heading in capitals."""
    words = line.split()
    if not 2 <= len(words) <= 5 or any(ch.isdigit() for ch in line) or line.isupper():
        return False
    if fold(line).startswith(_SIGN_ROLES) or fold(line) in _TITLE_WORDS:
        return False
    return all(w[:1].isupper() for w in words) and not line.rstrip().endswith((":", ",", "."))


def _signature(blocks: list[Block]) -> tuple[str | None, str | None]:
    """(signer, title) from the signature block: the last personal name after T/M, K/T ... or a title.
    The block is at the end, else (a decision followed by the regulation it issues) the last one."""
    tail_start = next((i for i in range(len(blocks) - 1, -1, -1) if is_tail(blocks[i])
                       and not fold(blocks[i].text).startswith(("noi nhan", "tren day la"))), None)
    signer, title = _signed(blocks, blocks[tail_start if tail_start is not None else max(0, len(blocks) - 12):])
    if title is None:
        last = next((i for i in range(len(blocks) - 1, -1, -1) if _is_title(blocks[i].text)), None)
        if last is not None:
            column = _cell_column(blocks[last])
            window = ([b for b in blocks if _cell_column(b) == column] if column
                      else blocks[max(0, last - 2):last + 4])
            signer, title = _signed(blocks, window)
    return signer, title


def _is_title(line: str) -> bool:
    key = fold(line)
    return key.startswith(_SIGN_ROLES) or key in _TITLE_WORDS


def _signed(blocks: list[Block], window: list[Block]) -> tuple[str | None, str | None]:
    lines: list[str] = []
    for b in window:
        if b.cell and b.cell[2] == 0 and any(fold(x).startswith("noi nhan") for x in _cell_text(blocks, b)):
            continue  # the "Nơi nhận" column of the signature table
        lines.extend(x.strip() for x in b.text.split("\n") if x.strip())
    title = None
    for line in lines:
        if _is_title(line):
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
    title = _type_line(body[:40])
    left, right = _letterhead(body, title)
    meta = Metadata(issuer=_issuer(left))
    for line in left + right:
        m = _NUMBER.search(line)
        if m:
            meta.number = m.group(1).rstrip(".")
            break
    meta.place, meta.date = _date(right)
    if meta.date is None:
        meta.place, meta.date = _date(left)
    if meta.date is None:
        meta.place, meta.date = _head_date(body[:25])
    if title is not None:
        meta.doc_type = doc_type(body[title].text.split("\n", 1)[0])
        meta.summary = _summary(body, title)
    meta.signer, meta.signer_title = _signature(body)
    if ocr:
        meta.signer = _fix_ocr_surname(meta.signer)
    return meta
