"""One report in two formats: the signed PDF and the .docx of one report, sent in one mail, count once.

Derivation finds which files of a mail hold the same text (their content fingerprints,
extractors/fingerprint.py) and gives them one `same_as`; here such files are one report, read from
the version that reads best (the format registry's fidelity: the .docx where there is one, then the
fewest missing sections) and signed by whichever of them carries the signature (the PDF). Files of
different texts stay apart: two reports in one mail are two.
"""

from __future__ import annotations

from dataclasses import replace

from extractors import formats
from rules.facts import DocumentFacts


def reports_of(documents: list[DocumentFacts]) -> list[DocumentFacts]:
    """The reports among one mail's documents, in their order, one per text: the best reading of each
    (among the files of that text recognized as the report), carrying the signatures of every file of
    that text."""
    texts: dict[str, list[DocumentFacts]] = {}
    for document in documents:
        texts.setdefault(document.same_as or document.id, []).append(document)
    reports = []
    for files in texts.values():
        readings = [f for f in files if f.kind == "report"]
        if readings:
            reports.append(replace(_best_reading(readings), signatures=[s for f in files for s in f.signatures]))
    return reports


def _best_reading(files: list[DocumentFacts]) -> DocumentFacts:
    return min(files, key=lambda f: (-formats.get(f.format).fidelity, len(f.missing_sections), f.id))
