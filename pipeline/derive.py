"""Derive everything about one stored mail from its raw bytes and the campaign files.

Deriving a mail replaces all its derived rows in one transaction, so a crash leaves either the
old result or the new one. A failure is a flag row with the reason, never an exception that stops
the batch.
"""

from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime

import sqlite_utils

from extractors import config as extractor_config
from extractors import formats
from extractors.analyze import DocumentAnalysis
from extractors.fingerprint import fingerprint, same_text
from extractors.model import Document, Extraction, Flag, Signature
from extractors.readers import read_document
from extractors.signatures import read_signatures
from extractors.text import fold
from pipeline.mime import Attachment, ParsedMail, attachment_id, content_key, parse_mail
from pipeline.schema import bit
from pipeline.store import now_iso, replace_derived, sha256
from rules.attribution import MailSignals, attribute, campaign_score, campaign_score_bound
from rules.campaign import Campaign
from rules.mentions import mention
from rules.signatures import signature_state
from rules.vocabulary import MailFlag

log = logging.getLogger(__name__)

CAMPAIGN_THRESHOLD = 0.5  # keywords alone are enough; nothing at all means "not for a campaign"


@dataclass
class Derived:
    """What deriving one mail decided, for the caller's summary."""

    id: str
    campaign: str | None = None
    unit: str | None = None
    flags: list[Flag] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # of the documents found, in order
    outputs: list[str] = field(default_factory=list)  # keys of the tool outputs its reading used or made


def receipt_time(mail: ParsedMail, internaldate: datetime | None) -> tuple[datetime | None, str | None]:
    """The office server's receipt time: IMAP INTERNALDATE, else the topmost Received: header,
    else (flagged by the caller) the sender's own Date:."""
    if internaldate:
        return internaldate, "internaldate"
    if mail.received_at:
        return mail.received_at, "received"
    if mail.date:
        return mail.date, "date"
    return None, None


def _signals(mail: ParsedMail) -> MailSignals:
    thread = [x for x in [mail.in_reply_to, *mail.references] if x]
    return MailSignals(mail.subject, mail.body_text, mail.from_addr,
                       [f.from_addr for f in mail.forwarded if f.from_addr], thread, mail.auto_reply)


def _read_files(mail: ParsedMail) -> list[tuple[str, Attachment, Document]]:
    """(attachment id suffix, attachment, document) for every attachment that is a document
    (extractors.formats says which are; an archive's members are attachments of their own)."""
    docs = []
    for att in mail.attachments:
        doc = read_document(att.data, att.filename)
        if formats.get(doc.format).document:
            docs.append((att.part, att, doc))
    return docs


def _same_texts(docs: list[tuple[str, Attachment, Document]]) -> dict[str, str]:
    """part → the part of the first file of the mail holding the same text, for every file that has
    such a twin (the signed PDF of a report and its .docx): their content fingerprints agree."""
    if len(docs) < 2:
        return {}
    firsts: list[tuple[str, frozenset[int]]] = []
    same: dict[str, str] = {}
    for part, _, doc in docs:
        text = fingerprint(doc.blocks)
        first = next((p for p, f in firsts if same_text(f, text)), None)
        if first is None:
            firsts.append((part, text))
        else:
            same[first] = same[part] = first
    return same


def _signature_rows(document: str, message: str, campaign: str | None, unit: str | None,
                    signatures: list[Signature]) -> list[dict]:
    return [{
        "id": f"{document}:sig{n}", "document": document, "message": message, "campaign_id": campaign,
        "unit_id": unit, "position": n, "signer": s.signer, "organization": s.organization,
        "signed_at": s.signed_at.isoformat() if s.signed_at else None, "issuer": s.issuer,
        "intact": bit(s.intact), "modified_after_signing": bit(s.modified_after_signing),
        "trusted": bit(s.trusted), "valid_at_signing": bit(s.valid_at_signing), "revocation": s.revocation,
        "time_source": s.time_source, "modification": s.modification, "location": s.location,
        "state": signature_state([s]),
    } for n, s in enumerate(signatures)]


def _choose_campaign(campaigns: list[Campaign], mail: ParsedMail, docs) -> tuple[Campaign | None, dict]:
    """The campaign the mail answers (the first, in the order given, with the highest score), with
    each document's extraction for it. Scoring a campaign means aligning every file with its
    outline, so the campaigns are tried highest bound first and one whose bound cannot beat the
    best found is never scored: ten years of campaigns cost about what one does."""
    signals = _signals(mail)
    analyses = [(part, DocumentAnalysis(doc, att.filename)) for part, att, doc in docs]
    bounds = [campaign_score_bound(c, signals) for c in campaigns]
    order = sorted(range(len(campaigns)), key=lambda i: (-bounds[i], i))
    best_score, best, best_extractions = 0.0, -1, {}
    first_extractions: dict = {}  # kept when no campaign scores at all: those of the first campaign
    for i in order:
        if best >= 0 and (bounds[i], -i) <= (best_score, -best):
            break  # neither this campaign nor any after it can win
        profile = campaigns[i].profile()
        extractions = {part: analysis.for_profile(profile) for part, analysis in analyses}
        kinds = [e.kind for e in extractions.values()]
        file_text = " ".join(e.text[:2000] for e in extractions.values())
        score = campaign_score(campaigns[i], signals, kinds)
        if score < CAMPAIGN_THRESHOLD and file_text:
            probe = MailSignals(file_text, "", None, [], [], False)
            score = max(score, campaign_score(campaigns[i], probe, []))
        if i == 0:
            first_extractions = extractions
        if score > 0 and (score, -i) > (best_score, -best):
            best_score, best, best_extractions = score, i, extractions
    if best < 0:
        return None, first_extractions
    return (campaigns[best] if best_score >= CAMPAIGN_THRESHOLD else None), best_extractions


def derive_rows(message: str, raw: bytes, campaigns: list[Campaign], internaldate: datetime | None) -> dict:
    """The rows of one mail, or the processing_error rows when deriving failed. Pure (no database),
    so it can run in a worker process (pipeline/flow.py); never raises."""
    try:
        return _derive_rows(message, raw, campaigns, internaldate)
    except Exception as exc:  # noqa: BLE001 - a bug or an input nobody foresaw: record it, keep the batch going
        log.error("deriving %s failed: %s", message[:12], exc)
        detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
        return failed_rows(message, detail)


def write_rows(db: sqlite_utils.Database, message: str, rows: dict) -> Derived:
    """Replace a mail's derived rows with `rows`, in one transaction."""
    replace_derived(db, message, rows)
    m = rows["message"]
    return Derived(message, m["campaign_id"], m["unit_id"], [Flag(f["kind"], f["detail"]) for f in rows["flags"]],
                   [d["kind"] for d in rows["documents"]],
                   [*rows.get("tool_outputs_used", ()), *(o["key"] for o in rows.get("tool_outputs", ()))])


def failed_rows(message: str, detail: str) -> dict:
    return {
        "message": {"id": message, "derived_at": now_iso(), "subject": None, "auto_reply": 0, "n_files": 0,
                    "campaign_id": None, "unit_id": None},
        "attachments": [], "documents": [], "sections": [], "signatures": [],
        "flags": [{"message": message, "kind": MailFlag.PROCESSING_ERROR, "detail": detail}],
    }


def _derive_rows(message: str, raw: bytes, campaigns: list[Campaign], internaldate: datetime | None) -> dict:
    mail = parse_mail(raw)
    docs = _read_files(mail)
    campaign, extractions = _choose_campaign(campaigns, mail, docs)
    flags: list[dict] = []

    def flag(kind: str, detail: str = "", attachment: str | None = None) -> None:
        flags.append({"message": message, "attachment": attachment, "kind": kind, "detail": detail})

    for f in mail.flags:
        flag(f.kind, f.detail)
    received, basis = receipt_time(mail, internaldate)
    unit, unit_basis = None, None
    if campaign:
        reports = [e for e in extractions.values() if e.kind == "report"]
        issuers = [e.metadata.issuer for e in reports + list(extractions.values()) if e.metadata.issuer]
        unit, unit_basis = attribute(campaign, _signals(mail), issuers)
        if unit_basis == "forwarded_sender":
            inner = next((f for f in mail.forwarded if f.received_at), None)
            if inner and not internaldate:
                received, basis = inner.received_at, "forwarded_received"
        if unit is None and not mail.auto_reply:
            flag(MailFlag.UNKNOWN_SENDER, mail.from_addr or "")
    if basis == "date":
        flag(MailFlag.RECEIPT_TIME_FROM_DATE, "no Received: header; the sender's Date: was used")
    elif basis is None:
        flag(MailFlag.NO_RECEIPT_TIME, "neither Received: nor Date: could be read")
    if mail.auto_reply:
        flag(MailFlag.AUTO_REPLY, mail.subject)
    elif campaign is None:
        flag(MailFlag.UNRELATED, mail.subject)

    attachments, documents, sections, signatures = [], [], [], []
    for att in mail.attachments:
        attachments.append({
            "id": attachment_id(message, att.part), "message": message, "part": att.part, "filename": att.filename,
            "content_type": att.content_type, "size": len(att.data), "sha256": sha256(att.data),
            "origin": att.origin,
        })
    same = _same_texts(docs)
    trust_roots = extractor_config.current().trust_roots
    for part, att, doc in docs:
        ext: Extraction = extractions[part]
        doc_id = attachment_id(message, part)
        file_signatures, signature_flags = read_signatures(att.data, doc.format, trust_roots)
        mentions = {}
        if campaign and ext.kind == "report":
            mentions = {r.id: mention(ext.text, r.mentioned_by) for r in campaign.attachments
                        if r.required == "if_mentioned"}
        meta = ext.metadata
        documents.append({
            "id": doc_id, "message": message, "campaign_id": campaign.id if campaign else None,
            "filename": att.filename, "format": ext.format, "kind": ext.kind, "issuer": meta.issuer,
            "number": meta.number, "doc_date": meta.date.isoformat() if meta.date else None,
            "place": meta.place, "doc_type": meta.doc_type, "summary": meta.summary, "signer": meta.signer,
            "signer_title": meta.signer_title, "missing_sections": json.dumps(ext.missing_sections),
            "mentions": json.dumps(mentions), "error": ext.error, "text": ext.text,
            "n_signatures": len(file_signatures), "signature_state": signature_state(file_signatures),
            "same_as": attachment_id(message, same[part]) if part in same else None,
        })
        signatures += _signature_rows(doc_id, message, campaign.id if campaign else None, unit, file_signatures)
        for n, s in enumerate(ext.sections):
            sections.append({
                "id": f"{doc_id}:{s.key}", "document": doc_id, "message": message,
                "campaign_id": campaign.id if campaign else None, "unit_id": unit, "key": s.key,
                "heading": s.heading, "text": s.text, "text_folded": fold(f"{s.heading}\n{s.text}"),
                "confidence": s.confidence,
                "position": n, "extra": int(s.extra),
            })
        for f in ext.flags + signature_flags:
            flag(f.kind, f.detail, doc_id)
    for row in flags:
        row["campaign_id"] = campaign.id if campaign else None
        row["unit_id"] = unit
    return {
        "message": {
            "id": message, "message_id": mail.message_id, "content_key": content_key(mail),
            "subject": mail.subject, "from_addr": mail.from_addr, "from_name": mail.from_name,
            "to_addrs": ", ".join(mail.to), "date_header": mail.date.isoformat() if mail.date else None,
            "received_at": received.isoformat() if received else None, "received_basis": basis,
            "in_reply_to": mail.in_reply_to, "auto_reply": int(mail.auto_reply),
            "campaign_id": campaign.id if campaign else None, "unit_id": unit, "unit_basis": unit_basis,
            "body_text": mail.body_text, "n_files": len(mail.attachments), "derived_at": now_iso(),
        },
        "attachments": attachments, "documents": documents, "sections": sections,
        "signatures": signatures, "flags": flags,
    }
