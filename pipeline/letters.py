"""The call letter and its đề cương as `intake campaign draft` reads them: one or two files, or a
stored mail (.eml) carrying both. Scans are read with the OCR settings letters need
(`extractors.ocr.letter_ocr`), and the lines OCR was unsure of are kept for the draft to quote.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from extractors import formats
from extractors.model import FlagKind
from extractors.ocr import letter_ocr
from extractors.readers import read_document
from pipeline.mime import parse_mail
from pipeline.sources import looks_like_mail
from rules.draft import pick_letter_and_outline

LOW_CONFIDENCE = 85  # a line with a word OCR read with less confidence than this is quoted to staff
# flags saying why a file gave no text, clearest first
_NOT_READ = (FlagKind.CONVERTER_MISSING, FlagKind.UNREADABLE, FlagKind.NEEDS_OCR)


class LetterError(Exception):
    """Nothing to draft from: the message names the file and the reason."""


@dataclass
class LetterSource:
    letter: str  # the letter's text, a line per block
    outline: str | None  # the đề cương's, when it is a file of its own
    letter_name: str
    outline_name: str | None
    scanned: bool  # some of it was read by OCR
    doubtful: list[str]  # lines OCR read with low confidence


def read_letter(letter_path: str, outline_path: str | None = None) -> LetterSource:
    """The letter (a document, or a mail whose files are the letter and maybe its đề cương) and the
    đề cương file when there is one. Raises LetterError when no letter can be read."""
    data = Path(letter_path).read_bytes()
    with letter_ocr() as lines:
        name = os.path.basename(letter_path)
        files = _mail_files(data, letter_path) if looks_like_mail(data[:8192]) else [(name, *_read(data, name))]
        letter, outline = pick_letter_and_outline([(n, text) for n, text, _ in files])
        chosen = [files[letter]]
        if outline_path is not None:
            name = os.path.basename(outline_path)
            chosen.append((name, *_read(Path(outline_path).read_bytes(), name)))
        elif outline is not None:
            chosen.append(files[outline])
    (letter_name, letter_text, _), *rest = chosen
    return LetterSource(letter_text, rest[0][1] if rest else None, letter_name, rest[0][0] if rest else None,
                        scanned=any(scanned for *_, scanned in chosen),
                        doubtful=[line.text for line in lines if line.confidence < LOW_CONFIDENCE])


def _read(data: bytes, name: str) -> tuple[str, bool]:
    """A document's text (automatic numbers included) and whether OCR read it; LetterError when it has
    none ("tesseract is not installed: 2 scanned page(s) not read")."""
    doc = read_document(data, name)
    text = "\n".join(b.full_text for b in doc.body)
    if doc.error or not text.strip():
        reason = doc.error or next((f.detail for kind in _NOT_READ for f in doc.flags if f.kind == kind),
                                   "no text in it")
        raise LetterError(f"{name}: {reason}")
    return text, any(f.kind == FlagKind.OCR for f in doc.flags)


def _mail_files(raw: bytes, path: str) -> list[tuple[str, str, bool]]:
    """(name, text, scanned) of every document a mail carries; its body when it carries none."""
    mail = parse_mail(raw)
    files, unread = [], []
    for att in mail.attachments:
        if formats.sniff(att.data, att.filename).archive:
            continue  # its members are attachments of their own
        try:
            files.append((att.filename, *_read(att.data, att.filename)))
        except LetterError as exc:
            unread.append(str(exc))
    if files:
        return files
    if mail.body_text.strip():
        return [(f"{os.path.basename(path)} (nội dung thư)", mail.body_text, False)]
    raise LetterError(f"{path}: the mail carries no document that can be read and no text"
                      + (f" ({'; '.join(unread)})" if unread else ""))
