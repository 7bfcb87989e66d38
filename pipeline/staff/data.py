"""What the staff pages read from the database: plain functions of a sqlite3 connection, run in
Datasette's read thread (`Database.execute_fn`) or directly (exports, benchmarks).

Statuses come from the `unit_status` view (roster units only) and `unattributed_submissions`
(reports nobody could attribute, never a unit's); the unit a mail counts for from `attributions`
(staff decisions applied); labels from rules/vocabulary.py.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import tzinfo

from extractors.model import OTHER_KIND, REPORT_KIND
from extractors.text import fold
from pipeline.schema import json_list, select, truth
from pipeline.staff import fmt
from rules.attribution import ASSIGNED_MATCH
from rules.decisions import paper_decision
from rules.vocabulary import NOT_SUBMITTED, SUBMITTED, AlertOutcome, Origin, Status, flag_label

# ---- campaigns -----------------------------------------------------------------------------------

@dataclass
class CampaignInfo:
    id: str
    title: str
    deadline: str
    tz: tzinfo
    closed: bool
    outline: list[dict]  # [{"key", "title"}] in document order
    attachments: dict[str, str]  # id -> title

    def section_title(self, key: str) -> str:
        return next((n["title"] for n in self.outline if n["key"] == key), "")

    def section_words(self, key: str) -> str:
        """"Mục III. ĐỀ XUẤT, KIẾN NGHỊ"."""
        title = self.section_title(key)
        return f"Mục {key}. {title}" if title else f"Mục {key}"

    def attachment_title(self, attachment_id: str) -> str:
        return self.attachments.get(attachment_id, attachment_id)

    def document_kind(self, kind: str | None) -> str:
        """A document's kind in words: the report, an attachment's title, or another file."""
        if kind == REPORT_KIND:
            return "Báo cáo"
        if kind and kind != OTHER_KIND and kind in self.attachments:
            return self.attachments[kind]
        return "Tệp khác"


def _campaign(row: sqlite3.Row) -> CampaignInfo:
    attachments = {a["id"]: a.get("title") or a["id"] for a in json_list(row["attachments"])
                   if isinstance(a, dict) and "id" in a}
    outline = [n for n in json_list(row["outline"]) if isinstance(n, dict) and n.get("key")]
    return CampaignInfo(row["id"], row["title"] or row["id"], row["deadline"],
                        fmt.zone(row["timezone"], fmt.parse(row["deadline"])), bool(row["closed"]), outline,
                        attachments)


_CAMPAIGN_COLUMNS = "id, title, deadline, timezone, closed, outline, attachments"


def campaign(conn: sqlite3.Connection, campaign_id: str) -> CampaignInfo | None:
    rows = select(conn, f"select {_CAMPAIGN_COLUMNS} from campaigns where id = ?", [campaign_id])
    return _campaign(rows[0]) if rows else None


def campaigns(conn: sqlite3.Connection) -> list[CampaignInfo]:
    """Open campaigns first, each group newest deadline first."""
    return [_campaign(r) for r in select(conn, f"select {_CAMPAIGN_COLUMNS} from campaigns "
                                               "order by closed, deadline desc, id")]


@dataclass
class Counts:
    units: int = 0
    submitted: int = 0
    late: int = 0
    not_submitted: int = 0
    incomplete: int = 0  # submitted with an attachment or a section missing
    unattributed: int = 0
    exempt: int = 0  # staff exempted them: neither submitted nor owing

    @property
    def expected(self) -> int:
        return self.units - self.exempt


def counts(conn: sqlite3.Connection) -> dict[str, Counts]:
    """Per campaign: whole units of the roster in each state, and reports nobody could attribute.
    Read from the cached statuses directly: whether a unit not submitted is pending or missing
    does not change these numbers."""
    result: dict[str, Counts] = {}
    for row in select(conn, """select campaign_id, unit_id is null as stray, status, count(*) as n,
            sum(missing_attachments != '[]' or missing_sections != '[]' or missing_signature is not null)
                as incomplete
        from submissions group by 1, 2, 3"""):
        entry = result.setdefault(row["campaign_id"], Counts())
        if row["stray"]:
            entry.unattributed += row["n"]
            continue
        entry.units += row["n"]
        if row["status"] in SUBMITTED:
            entry.submitted += row["n"]
            entry.incomplete += row["incomplete"]
        elif row["status"] in NOT_SUBMITTED:
            entry.not_submitted += row["n"]
        elif row["status"] == Status.EXEMPT:
            entry.exempt += row["n"]
        if row["status"] == Status.LATE:
            entry.late += row["n"]
    return result


# ---- digital signatures -------------------------------------------------------------------------------

@dataclass
class SignatureRow:
    """One digital signature of a file, as the signatures table holds it (None: not checked)."""

    signer: str | None
    organization: str | None
    signed_at: str | None
    state: str | None  # a SignatureState
    trusted: bool | None
    valid_at_signing: bool | None
    revocation: str | None


def _signature(row: sqlite3.Row) -> SignatureRow:
    return SignatureRow(row["signer"], row["organization"], row["signed_at"], row["state"], truth(row["trusted"]),
                        truth(row["valid_at_signing"]), row["revocation"])


_SIGNATURE_COLUMNS = "g.signer, g.organization, g.signed_at, g.state, g.trusted, g.valid_at_signing, g.revocation"


# ---- one campaign's roster ---------------------------------------------------------------------------

@dataclass
class Sent:
    kind: str  # an AlertKind
    at: str
    recipients: int


@dataclass
class UnitRow:
    """One unit of a campaign's roster, as the campaign page and the exports show it."""

    unit_id: str
    unit_name: str
    status: str
    received_at: str | None
    deadline: str
    missing_attachments: list[str]
    missing_sections: list[str]
    flags: list[str]
    report: str | None
    report_file: str | None
    report_message: str | None
    sent: list[Sent] = field(default_factory=list)
    missing_signature: str | None = None  # a StatusFlag: unsigned, signature_invalid
    report_signatures: list[SignatureRow] = field(default_factory=list)  # of every file of the report's text
    report_copies: list[tuple[str, str]] = field(default_factory=list)  # (id, filename) of its other files

    @property
    def submitted(self) -> bool:
        return self.status in SUBMITTED

    @property
    def owing(self) -> bool:
        """Nothing submitted yet, and not exempted."""
        return self.status in NOT_SUBMITTED

    @property
    def incomplete(self) -> bool:
        return self.submitted and bool(self.missing_attachments or self.missing_sections or self.missing_signature)


def missing_words(info: CampaignInfo, row) -> list[str]:
    """What a submission still lacks, in words: attachment titles, sections by key and title, then
    the signature the campaign requires."""
    return ([info.attachment_title(a) for a in row.missing_attachments]
            + [info.section_words(k) for k in row.missing_sections]
            + ([flag_label(row.missing_signature)] if row.missing_signature else []))


def flag_words(info: CampaignInfo, flags: list[str], missing_signature: str | None = None) -> list[str]:
    """Flags in words, but for the missing signature, which is said among what is missing."""
    return [flag_label(f, info.attachments) for f in flags if f != missing_signature]


def _report_files(conn: sqlite3.Connection, campaign_id: str) -> tuple[dict[str, list[SignatureRow]],
                                                                       dict[str, list[tuple[str, str]]]]:
    """Per current report of the campaign: the signatures of every file holding its text (the signed
    PDF beside the .docx it is read from), and those other files."""
    signatures: dict[str, list[SignatureRow]] = {}
    copies: dict[str, list[tuple[str, str]]] = {}
    for row in select(conn, f"""select sub.report, t.id, t.filename, g.id as signature, {_SIGNATURE_COLUMNS}
        from submissions sub join documents d on d.id = sub.report
        join documents t on t.message = d.message and (t.id = d.id or t.same_as = d.same_as)
        left join signatures g on g.document = t.id
        where sub.campaign_id = ? order by +sub.report, t.id, g.position""", [campaign_id]):
        # `+`: ordered by the report index, SQLite would scan every campaign's submissions
        if row["signature"] is not None:
            signatures.setdefault(row["report"], []).append(_signature(row))
        known = copies.setdefault(row["report"], [])
        if row["id"] != row["report"] and (row["id"], row["filename"]) not in known:
            known.append((row["id"], row["filename"] or ""))
    return signatures, copies


def roster(conn: sqlite3.Connection, campaign_id: str) -> list[UnitRow]:
    """Every unit of the campaign in roster order, with its current report and the alerts sent to it."""
    sent: dict[str, list[Sent]] = {}
    for row in select(conn, """select unit_id, kind, min(coalesce(sent_at, attempted_at)) as at,
            count(distinct recipient) as n
        from alerts where campaign_id = ? and unit_id is not null and outcome = ?
        group by unit_id, kind order by at""", [campaign_id, AlertOutcome.SENT]):
        sent.setdefault(row["unit_id"], []).append(Sent(row["kind"], row["at"], row["n"]))
    signatures, copies = _report_files(conn, campaign_id)
    rows = []
    for row in select(conn, """select us.unit_id, us.unit_name, us.status, us.received_at, us.deadline,
            us.missing_attachments, us.missing_sections, us.flags, us.report, d.filename, d.message,
            us.missing_signature
        from unit_status us left join documents d on d.id = us.report
        where us.campaign_id = ?""", [campaign_id]):
        rows.append(UnitRow(row["unit_id"], row["unit_name"] or row["unit_id"], row["status"], row["received_at"],
                            row["deadline"], json_list(row["missing_attachments"]),
                            json_list(row["missing_sections"]), json_list(row["flags"]), row["report"],
                            row["filename"], row["message"], sent.get(row["unit_id"], []), row["missing_signature"],
                            signatures.get(row["report"], []), copies.get(row["report"], [])))
    return rows


@dataclass
class Stray:
    """A submission nobody could attribute: one mail, listed apart, never a unit's."""

    message: str | None
    from_addr: str | None
    from_name: str | None
    subject: str | None
    status: str
    received_at: str | None
    report: str | None
    report_file: str | None
    missing_attachments: list[str]
    missing_sections: list[str]
    flags: list[str]
    missing_signature: str | None = None


def unattributed(conn: sqlite3.Connection, campaign_id: str) -> list[Stray]:
    return [Stray(r["message"], r["from_addr"], r["from_name"], r["subject"], r["status"], r["received_at"],
                  r["report"], r["filename"], json_list(r["missing_attachments"]),
                  json_list(r["missing_sections"]), json_list(r["flags"]), r["missing_signature"])
            for r in select(conn, """select us.*, s.missing_attachments, s.missing_sections, s.missing_signature,
                d.filename
                from unattributed_submissions us
                join submissions s on s.campaign_id = us.campaign_id and s.row = us.row
                left join documents d on d.id = us.report
                where us.campaign_id = ?""", [campaign_id])]


# ---- sections ---------------------------------------------------------------------------------------

@dataclass
class Part:
    key: str
    heading: str
    text: str


@dataclass
class UnitSection:
    unit_id: str
    unit_name: str
    report: str | None  # None: no report yet
    report_file: str | None
    report_message: str | None
    parts: list[Part] = field(default_factory=list)  # the section and its subsections, in document order

    @property
    def paper(self) -> bool:
        """The current report is a paper copy staff recorded: no text to show."""
        return paper_decision(self.report) is not None


def _under(key: str) -> str:
    """LIKE pattern of a key's subsections ("II" -> "II.%"), with LIKE's wildcards escaped."""
    return re.sub(r"([\\%_])", r"\\\1", key) + ".%"


def section(conn: sqlite3.Connection, campaign_id: str, key: str | None) -> list[UnitSection]:
    """Every roster unit (roster order) with the text of section `key` (and its subsections) in its
    current report; key None gives every section."""
    where = "" if key is None else "and (s.key = ? or s.key like ? escape '\\')"
    params = ([] if key is None else [key, _under(key)]) + [campaign_id]
    result: dict[str, UnitSection] = {}
    for row in select(conn, f"""select sub.unit_id, u.name, sub.report, d.filename, d.message,
            s.key, s.heading, s.text
        from submissions sub
        left join units u on u.campaign_id = sub.campaign_id and u.id = sub.unit_id
        left join documents d on d.id = sub.report
        left join sections s on s.document = sub.report and s.extra = 0 {where}
        where sub.campaign_id = ? and sub.unit_id is not null
        order by sub.row, s.position""", params):
        entry = result.setdefault(row["unit_id"], UnitSection(row["unit_id"], row["name"] or row["unit_id"],
                                                              row["report"], row["filename"], row["message"]))
        if row["key"] is not None:
            entry.parts.append(Part(row["key"], row["heading"] or "", row["text"] or ""))
    return list(result.values())


# ---- units and mails ----------------------------------------------------------------------------------

@dataclass
class File:
    id: str
    filename: str
    size: int
    origin: str
    kind: str | None  # documents.kind, None when the file is no document
    flags: list[str]
    signatures: list[SignatureRow] = field(default_factory=list)
    same_text: list[str] = field(default_factory=list)  # names of the mail's other files holding its text

    @property
    def origin_words(self) -> str:
        return Origin(self.origin).label if self.origin in {o.value for o in Origin} else self.origin  # type: ignore[call-arg]  # a lookup by value, not Term.__new__(code, label)


@dataclass
class Mail:
    id: str
    subject: str | None
    from_addr: str | None
    from_name: str | None
    to_addrs: str | None
    received_at: str | None
    campaign_id: str | None
    unit_id: str | None
    unit_name: str | None
    auto_reply: bool
    body_text: str | None
    flags: list[str]
    files: list[File] = field(default_factory=list)
    counted: bool = True  # False: an auto-reply, or set aside by staff
    basis: str | None = None  # how its unit was found; rules/attribution.py ASSIGNED_MATCH: staff said so

    @property
    def assigned(self) -> bool:
        return self.basis == ASSIGNED_MATCH


# The unit a mail counts for: its attribution with staff decisions applied (the campaign staff
# assigned it to first, else its own), or what deriving found where no attribution was computed.
_MAIL_FROM = f"""messages m
    left join attributions a on a.message = m.id and a.campaign_id = coalesce((select x.campaign_id
        from attributions x where x.message = m.id and x.basis = '{ASSIGNED_MATCH}' limit 1), m.campaign_id)"""
_MAIL_UNIT = "coalesce(a.unit_id, case when a.message is null then m.unit_id end)"
_MAIL_COLUMNS = f"""m.id, m.subject, m.from_addr, m.from_name, m.to_addrs, m.received_at,
    coalesce(a.campaign_id, m.campaign_id) as campaign_id, {_MAIL_UNIT} as unit_id, u.name as unit_name,
    m.auto_reply, m.body_text, coalesce(a.counted, not m.auto_reply) as counted, a.basis"""


def _mails(conn: sqlite3.Connection, where: str, args) -> list[Mail]:
    mails = [Mail(r["id"], r["subject"], r["from_addr"], r["from_name"], r["to_addrs"], r["received_at"],
                  r["campaign_id"], r["unit_id"], r["unit_name"], bool(r["auto_reply"]), r["body_text"], [],
                  counted=bool(r["counted"]), basis=r["basis"])
             for r in select(conn, f"""select {_MAIL_COLUMNS} from {_MAIL_FROM}
                 left join units u on u.campaign_id = coalesce(a.campaign_id, m.campaign_id) and u.id = {_MAIL_UNIT}
                 where {where} order by m.received_at desc, m.id""", args)]
    by_id = {m.id: m for m in mails}
    if not by_id:
        return mails
    marks = ",".join("?" * len(by_id))
    file_flags: dict[str, list[str]] = {}
    for row in select(conn, f"select message, attachment, kind from flags where message in ({marks}) order by id",
                      list(by_id)):
        if row["attachment"]:
            file_flags.setdefault(row["attachment"], []).append(row["kind"])
        elif row["kind"] not in by_id[row["message"]].flags:
            by_id[row["message"]].flags.append(row["kind"])
    signatures: dict[str, list[SignatureRow]] = {}
    for row in select(conn, f"""select g.document, {_SIGNATURE_COLUMNS} from signatures g
            where g.message in ({marks}) order by g.document, g.position""", list(by_id)):
        signatures.setdefault(row["document"], []).append(_signature(row))
    same: dict[str, list[tuple[str, str]]] = {}
    for row in select(conn, f"""select id, filename, same_as from documents
            where message in ({marks}) and same_as is not null order by id""", list(by_id)):
        same.setdefault(row["same_as"], []).append((row["id"], row["filename"] or ""))
    twins = {file: [name for other, name in files if other != file] for files in same.values() for file, _ in files}
    for row in select(conn, f"""select a.id, a.message, a.filename, a.size, a.origin, d.kind
            from attachments a left join documents d on d.id = a.id
            where a.message in ({marks}) order by a.message, a.rowid""", list(by_id)):
        by_id[row["message"]].files.append(File(row["id"], row["filename"] or "", row["size"] or 0, row["origin"],
                                                row["kind"], file_flags.get(row["id"], []),
                                                signatures.get(row["id"], []), twins.get(row["id"], [])))
    return mails


def mail(conn: sqlite3.Connection, mail_id: str) -> Mail | None:
    found = _mails(conn, "m.id = ?", [mail_id])
    return found[0] if found else None


def unit_mails(conn: sqlite3.Connection, unit_id: str) -> list[Mail]:
    """The mails that count as the unit's (staff decisions applied)."""
    return _mails(conn, f"(m.id in (select message from attributions where unit_id = ?) or m.unit_id = ?) "
                        f"and {_MAIL_UNIT} = ?", [unit_id, unit_id, unit_id])


@dataclass
class UnitInfo:
    id: str
    name: str
    emails: list[str]


def unit(conn: sqlite3.Connection, unit_id: str) -> UnitInfo | None:
    """A unit of any campaign's roster: its name in the newest campaign, every address it has."""
    rows = select(conn, """select u.name, u.emails from units u join campaigns c on c.id = u.campaign_id
        where u.id = ? order by c.deadline desc""", [unit_id])
    if not rows:
        return None
    emails: list[str] = []
    for row in rows:
        emails += [e.strip() for e in (row["emails"] or "").split(",") if e.strip() and e.strip() not in emails]
    return UnitInfo(unit_id, rows[0]["name"] or unit_id, emails)


def campaign_units(conn: sqlite3.Connection, campaign_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Campaign → its roster's (id, name), in roster order, for these campaigns: the unit pickers."""
    found: dict[str, list[tuple[str, str]]] = {}
    for row in select(conn, "select campaign_id, id, name from units where campaign_id in "
                            "(select value from json_each(?)) order by rowid", [json.dumps(sorted(set(campaign_ids)))]):
        found.setdefault(row["campaign_id"], []).append((row["id"], row["name"] or row["id"]))
    return found


def unit_statuses(conn: sqlite3.Connection, unit_id: str) -> list[tuple[str, UnitRow]]:
    """(campaign id, the unit's row) for every campaign it is on the roster of, newest deadline first."""
    return [(r["campaign_id"], UnitRow(unit_id, r["unit_name"] or unit_id, r["status"], r["received_at"],
                                       r["deadline"], json_list(r["missing_attachments"]),
                                       json_list(r["missing_sections"]), json_list(r["flags"]), r["report"],
                                       r["filename"], r["message"], missing_signature=r["missing_signature"]))
            for r in select(conn, """select us.*, d.filename, d.message from unit_status us
                left join documents d on d.id = us.report
                where us.unit_id = ? order by us.deadline desc""", [unit_id])]


@dataclass
class AlertRow:
    campaign_id: str
    kind: str
    recipient: str
    subject: str
    outcome: str
    at: str


def unit_alerts(conn: sqlite3.Connection, unit_id: str) -> list[AlertRow]:
    return [AlertRow(r["campaign_id"], r["kind"], r["recipient"], r["subject"], r["outcome"], r["at"])
            for r in select(conn, """select campaign_id, kind, recipient, subject, outcome,
                coalesce(sent_at, attempted_at) as at from alerts where unit_id = ? order by id desc""", [unit_id])]


# ---- search -------------------------------------------------------------------------------------------

@dataclass
class Hit:
    section_id: str
    key: str
    heading: str
    text: str
    document: str
    filename: str | None
    message: str
    campaign_id: str | None
    unit_id: str | None
    unit_name: str | None
    current: bool  # the current report of a submission
    superseded: bool  # a unit's report replaced by a newer one


def search_terms(text: str) -> list[str]:
    """The folded words of what staff typed (FTS5 needs nothing but word characters)."""
    return re.findall(r"\w+", fold(text or ""))


def search(conn: sqlite3.Connection, text: str, campaign_id: str | None = None, include_old: bool = False,
           limit: int = 50) -> tuple[list[Hit], bool]:
    """Sections whose heading or text holds the words typed, as a phrase, with or without diacritics
    (the folded column matches đ = d too); newest first. Returns (hits, more than `limit`)."""
    terms = search_terms(text)
    if not terms:
        return [], False
    phrase = "{heading text text_folded} : \"" + " ".join(terms) + "\""
    where, args = ["sections_fts match ?"], [phrase]
    if campaign_id:
        where.append("s.campaign_id = ?")
        args.append(campaign_id)
    current = "exists (select 1 from submissions sub where sub.report = s.document)"
    if not include_old:
        where.append(current)
    unit = "coalesce(a.unit_id, case when a.message is null then s.unit_id end)"  # staff decisions applied
    rows = select(conn, f"""select s.id, s.key, s.heading, s.text, s.document, s.message, s.campaign_id,
            {unit} as unit_id, u.name as unit_name, d.filename, d.kind, {current} as current
        from sections_fts f join sections s on s.rowid = f.rowid
        left join attributions a on a.campaign_id = s.campaign_id and a.message = s.message
        left join units u on u.campaign_id = s.campaign_id and u.id = {unit}
        left join documents d on d.id = s.document
        where {' and '.join(where)}
        order by f.rowid desc limit ?""", args + [limit + 1])
    hits = [Hit(r["id"], r["key"], r["heading"] or "", r["text"] or "", r["document"], r["filename"], r["message"],
                r["campaign_id"], r["unit_id"], r["unit_name"], bool(r["current"]),
                not r["current"] and r["kind"] == REPORT_KIND and r["unit_id"] is not None) for r in rows]
    return hits[:limit], len(hits) > limit
