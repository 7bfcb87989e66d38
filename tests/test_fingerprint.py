"""The same report as a PDF and a .docx, told from two different reports (for issue 17's item 5)."""

from __future__ import annotations

from extractors.fingerprint import fingerprint, similarity
from extractors.readers import read_document
from tests.conftest import shared_path
from tests.fixtures.documents import report_docx, report_pdf


def _fingerprint(data: bytes, name: str) -> frozenset[int]:
    return fingerprint(read_document(data, name).blocks)


def test_real_pdf_and_its_docx_are_the_same_report():
    corpus = ("corpus", "vi")
    docx = _fingerprint(shared_path(*corpus, "vi_to-trinh-2114-snv_same-as-pdf.docx").read_bytes(), "a.docx")
    pdf = _fingerprint(shared_path(*corpus, "vi_to-trinh-2114-snv_unsigned.pdf").read_bytes(), "a.pdf")
    other = _fingerprint(shared_path(*corpus, "vi_to-trinh-3367-snv-binh-thuan_signed-twice.pdf").read_bytes(), "b.pdf")
    assert similarity(docx, pdf) >= 0.95
    assert similarity(docx, other) < 0.1  # another tờ trình of the same department


def test_one_template_two_units_stay_apart():
    """Fixture reports of two units share most of their sentences: still well below the same report."""
    same = dict(number="12-BC/ĐU", date=(2022, 6, 10))
    docx = _fingerprint(report_docx("Đảng bộ Sở Tài chính", issuer="ĐẢNG BỘ SỞ TÀI CHÍNH", signer="Nguyễn Văn A",
                                    **same), "a.docx")
    pdf = _fingerprint(report_pdf("Đảng bộ Sở Tài chính", issuer="ĐẢNG BỘ SỞ TÀI CHÍNH", signer="Nguyễn Văn A",
                                  **same), "a.pdf")
    other = _fingerprint(report_pdf("Đảng bộ Sở Xây dựng", issuer="ĐẢNG BỘ SỞ XÂY DỰNG", signer="Trần Văn B",
                                    **same), "b.pdf")
    assert similarity(docx, pdf) >= 0.95
    assert similarity(docx, other) < 0.9
    assert similarity(frozenset(), pdf) == 0.0
