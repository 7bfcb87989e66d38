"""What a file is for a campaign: its report, one of its attachments, or something else.

Content first (document type line and summary, then how much of the outline the file follows),
file name second, because units send "Document1.docx" and "scan0001.pdf".
"""

from __future__ import annotations

from extractors.model import Metadata, Profile, Section
from extractors.text import tokens

_STOP = {"cua", "va", "ve", "viec", "cac", "o", "trong", "tai", "nam", "so", "ngay"}


def _phrase_position(phrase: list[str], words: list[str]) -> tuple[float, int]:
    """How much of a phrase appears in a short window of `words`, and where that window starts."""
    phrase = [t for t in phrase if t not in _STOP] or phrase
    if not phrase or not words:
        return 0.0, len(words)
    width = len(phrase) + 3
    best, where = 0.0, len(words)
    for start in range(len(words)):
        if words[start] not in phrase:
            continue
        window = set(words[start:start + width])
        cover = sum(t in window for t in phrase) / len(phrase)
        if cover > best + 1e-9:
            best, where = cover, start
    return best, where


def _head_words(meta: Metadata) -> list[str]:
    return tokens(" ".join(x for x in (meta.doc_type, meta.summary) if x))


def attachment_kind(meta: Metadata, filename: str, profile: Profile) -> tuple[str | None, float]:
    """The campaign attachment a document's heading names; earliest mention wins a tie, so
    "Quyết định thành lập Ban Chỉ đạo thực hiện Quy chế dân chủ" is the decision, and
    "Quyết định ban hành Quy chế thực hiện dân chủ" is the regulation."""
    best: tuple[str | None, float, int] = (None, 0.0, 10**6)
    for source in (_head_words(meta), tokens(filename)):
        for spec in profile.kinds:
            for phrase in [spec.title, *spec.hints]:
                cover, where = _phrase_position(tokens(phrase), source)
                if cover >= 0.8 and (cover > best[1] + 0.05 or (abs(cover - best[1]) <= 0.05 and where < best[2])):
                    best = (spec.id, cover, where)
        if best[0]:
            return best[0], best[1]
    return None, 0.0


def report_score(meta: Metadata, sections: list[Section], profile: Profile) -> float:
    """How sure we are the document is this campaign's report (0..1)."""
    found = [s for s in sections if not s.extra]
    follows = len(found) / len(profile.outline) if profile.outline else 0.0
    title = [t for t in tokens(profile.title) if t not in _STOP]
    summary = set(tokens(meta.summary or ""))
    title_match = sum(t in summary for t in title) / len(title) if title else 0.0
    is_report = meta.doc_type in (None, "BÁO CÁO")
    if not is_report:
        return 0.0
    return max(follows, title_match if meta.doc_type else 0.0)


def _names_campaign(filename: str, profile: Profile) -> bool:
    name = " ".join(tokens(filename))
    return any(" ".join(tokens(k)) in name for k in profile.keywords if tokens(k))


def classify(meta: Metadata, sections: list[Section], filename: str, profile: Profile) -> str:
    """'report', an attachment id, or 'other'."""
    if report_score(meta, sections, profile) >= 0.5:
        return "report"
    if meta.doc_type != "BÁO CÁO":
        # The file name counts only when the content has no document type line at all.
        kind, _ = attachment_kind(meta, filename if meta.doc_type is None else "", profile)
        if kind:
            return kind
    if meta.doc_type is None and not sections and _names_campaign(filename, profile):
        return "report"  # nothing readable inside, but named for the campaign: a scan of the report
    return "other"
