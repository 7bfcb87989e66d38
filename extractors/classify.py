"""What a file is for a campaign: its report, one of its attachments, or something else.

Content first (document type line and summary, then how much of the outline the file follows),
file name second, because units send "Document1.docx" and "scan0001.pdf".
"""

from __future__ import annotations

from extractors.model import Metadata, Profile, Section
from extractors.text import tokens

_STOP = {"cua", "va", "ve", "viec", "cac", "o", "trong", "tai", "nam", "so", "ngay"}


_HEAD_WORDS = 40  # the type line and summary; the body would name every attachment in passing


def _ordered_match(phrase: list[str], words: list[str]) -> tuple[int, int]:
    """Longest common subsequence of phrase and words: (length, where it starts in words)."""
    n, m = len(phrase), len(words)
    # best[i][j] = (length, start) for phrase[i:] against words[j:]
    best = [[(0, m)] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if phrase[i] == words[j]:
                length, _ = best[i + 1][j + 1]
                best[i][j] = (length + 1, j)
            else:
                a, b = best[i + 1][j], best[i][j + 1]
                best[i][j] = a if (a[0], -a[1]) >= (b[0], -b[1]) else b
    return best[0][0]


def _phrase_score(phrase: str, doc_type: str | None, words: list[str]) -> tuple[float, int]:
    """How well the document's heading matches a phrase naming an attachment, and where.

    A phrase that starts with the document's own type ("Quy chế ..." for a QUY CHẾ) needs only
    the rest of its words in the summary, and earns a bonus for the type."""
    wanted = [t for t in tokens(phrase) if t not in _STOP]
    bonus = 0.0
    type_key = tokens(doc_type or "")
    if type_key and wanted[:len(type_key)] == type_key and len(wanted) > len(type_key):
        wanted, bonus = wanted[len(type_key):], 0.2
    if not wanted:
        return 0.0, len(words)
    length, where = _ordered_match(wanted, words)
    return length / len(wanted) + bonus, where


def attachment_kind(meta: Metadata, filename: str, profile: Profile) -> str | None:
    """The campaign attachment a document's heading (else its file name) names.

    Scores within a small margin are settled by which is named first, so "Quyết định thành lập
    Ban Chỉ đạo thực hiện Quy chế dân chủ" is the decision, and "Quyết định ban hành Quy chế thực
    hiện dân chủ" is the regulation."""
    sources = [(meta.doc_type, [t for t in tokens(meta.summary or "") if t not in _STOP][:_HEAD_WORDS])]
    if filename:
        sources.append((None, [t for t in tokens(filename) if t not in _STOP]))
    for doc_type, words in sources:
        scored = []
        for spec in profile.kinds:
            score, where = max((_phrase_score(p, doc_type, words) for p in [spec.title, *spec.hints]),
                               key=lambda sw: (sw[0], -sw[1]))
            if score >= 0.75:
                scored.append((score, where, spec.id))
        if scored:
            top = max(s for s, _, _ in scored)
            return min((w, kid) for s, w, kid in scored if s >= top - 0.1)[1]
    return None


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
        kind = attachment_kind(meta, filename if meta.doc_type is None else "", profile)
        if kind:
            return kind
    if meta.doc_type is None and not sections and _names_campaign(filename, profile):
        return "report"  # nothing readable inside, but named for the campaign: a scan of the report
    return "other"
