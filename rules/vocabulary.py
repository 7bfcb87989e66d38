"""One home for intake's words: every status, flag kind, attachment origin, alert kind, alert
outcome, what a digital signature shows, and kind and state of a staff decision, as the code the
database and JSON carry and the Vietnamese label staff read.

Code compares and stores the members (they are `str`s); pages, exports and mails show `.label`.
The SQL view `vocabulary` (pipeline/store.py) is generated from `TERMS`, so canned queries and
charts take their words from here too, and metadata.yml carries none (tests/test_vocabulary.py
checks it). Flag kinds the extractors emit are declared in extractors/model.py (`FlagKind`: the
extractors import nothing from rules) and labelled here.
"""

from __future__ import annotations

from enum import StrEnum

from extractors.model import FlagKind


class Term(StrEnum):
    """A code (the member's value) with the Vietnamese label staff read."""

    label: str

    def __new__(cls, code: str, label: str):
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        return member


class Status(Term):
    """A unit's status for a campaign (rules/status.py)."""

    ON_TIME = "on_time", "Đúng hạn"
    LATE = "late", "Trễ hạn"
    MISSING = "missing", "Chưa nộp (quá hạn)"
    PENDING = "pending", "Chưa nộp (còn hạn)"
    EXEMPT = "exempt", "Miễn nộp"  # staff exempted the unit (rules/decisions.py): nothing is owed


SUBMITTED = (Status.ON_TIME, Status.LATE)  # a report arrived
NOT_SUBMITTED = (Status.MISSING, Status.PENDING)


class MailFlag(Term):
    """Flag kinds the pipeline emits about a mail (MIME, attribution, receipt time)."""

    MIME_DEFECT = "mime_defect", "Thư có lỗi định dạng"
    MIME_LIMIT = "mime_limit", "Thư có quá nhiều phần, chưa mở hết"
    MIME_ERROR = "mime_error", "Không phân tích được thư"
    DEPTH_LIMIT = "depth_limit", "Thư chuyển tiếp lồng quá sâu"
    CHARSET_UNKNOWN = "charset_unknown", "Bảng mã chữ không rõ"
    CHARSET_ERROR = "charset_error", "Lỗi bảng mã chữ"
    BAD_DATE = "bad_date", "Ngày giờ ghi trong thư không hợp lệ"
    UNKNOWN_SENDER = "unknown_sender", "Chưa xác định được đơn vị gửi"
    RECEIPT_TIME_FROM_DATE = "receipt_time_from_date", "Thời điểm nhận lấy theo ngày ghi trong thư"
    NO_RECEIPT_TIME = "no_receipt_time", "Không rõ thời điểm nhận"
    AUTO_REPLY = "auto_reply", "Thư trả lời tự động"
    UNRELATED = "unrelated", "Không thuộc đợt báo cáo nào"
    PROCESSING_ERROR = "processing_error", "Lỗi khi xử lý thư"


class StatusFlag(Term):
    """Flag kinds of a unit's submission (rules/status.py)."""

    NO_REPORT = "no_report", "Có thư nhưng chưa có báo cáo"
    RESUBMITTED = "resubmitted", "Đã gửi lại báo cáo"
    LATE_ATTACHMENT = "late_attachment", "Tài liệu kèm theo gửi sau hạn"  # written "late_attachment:<id>"
    # With `signature: required` (rules/signatures.py): the current report's digital signature.
    UNSIGNED = "unsigned", "Chưa ký số"
    SIGNATURE_INVALID = "signature_invalid", "Bản ký số đã bị sửa"
    ON_PAPER = "on_paper", "Nộp bản giấy"  # a paper submission staff recorded (rules/decisions.py)


EXTRACTOR_FLAG_LABELS: dict[FlagKind, str] = {
    FlagKind.UNREADABLE: "Không đọc được tệp",
    FlagKind.ENCRYPTED: "Tệp có mật khẩu",
    FlagKind.TOO_LARGE: "Quá lớn, chưa mở",
    FlagKind.TRUNCATED: "Quá nhiều trang, chỉ đọc một phần",
    FlagKind.TIMEOUT: "Đọc quá lâu, dừng giữa chừng",
    FlagKind.LEGACY_ENCODING: "Phông chữ cũ (TCVN3, VNI), đã chuyển sang Unicode",
    FlagKind.NEEDS_OCR: "Trang scan chưa đọc được chữ",
    FlagKind.OCR: "Đã đọc bản scan bằng nhận dạng chữ",
    FlagKind.CONVERTER_MISSING: "Máy chưa cài phần mềm chuyển đổi (LibreOffice, tesseract)",
    FlagKind.ARCHIVE_LIMIT: "Tệp nén vượt giới hạn, chưa mở hết",
    FlagKind.ARCHIVE_ERROR: "Tệp nén bị hỏng",
    FlagKind.UNSUPPORTED_FORMAT: "Định dạng tệp chưa đọc được",
    FlagKind.LOW_CONFIDENCE: "Tiêu đề mục nhận ra chưa chắc chắn",
    FlagKind.EXTRA_SECTION: "Có mục ngoài đề cương",
    FlagKind.SIGNATURE_MALFORMED: "Chữ ký số hỏng, không đọc được",
    FlagKind.SIGNATURE_BROKEN: "Chữ ký số không khớp với nội dung tệp",
}


class SignatureState(Term):
    """What a file's digital signatures (ký số) show, or one signature's (rules/signatures.py); the
    labels are phrases of the staff pages' line "Ký số: …, còn nguyên vẹn"."""

    INTACT = "intact", "còn nguyên vẹn"
    ALTERED = "altered", "đã bị sửa sau khi ký"
    UNVERIFIED = "unverified", "chưa kiểm tra được"  # a .docx XML signature: read, not verified


class CertificateCheck(Term):
    """What is known of a signature's certificate, as the same line says it."""

    NOT_CHECKED = "not_checked", "chưa kiểm tra chuỗi chứng thư"  # no INTAKE_TRUST_ROOTS
    TRUSTED = "trusted", "chứng thư được tin cậy"
    UNTRUSTED = "untrusted", "chứng thư không được tin cậy"
    NOT_VALID_AT_SIGNING = "not_valid_at_signing", "chứng thư hết hiệu lực lúc ký"
    REVOKED = "revoked", "chứng thư đã bị thu hồi"


class Origin(Term):
    """Where an attachment was found in its mail."""

    MIME = "mime", "Đính kèm thư"
    ZIP = "zip", "Trong tệp nén"
    TNEF = "tnef", "Trong winmail.dat của Outlook"
    FORWARDED = "forwarded", "Trong thư được chuyển tiếp"
    UUENCODE = "uuencode", "Mã hóa uuencode trong nội dung thư"


class AlertKind(Term):
    """What an alert mail is (rules/alerts.py)."""

    ACKNOWLEDGEMENT = "acknowledgement", "Xác nhận đã nhận"
    LATE_ARRIVAL = "late_arrival", "Báo nộp trễ"
    REMINDER = "reminder", "Nhắc hạn"
    OVERDUE = "overdue", "Báo quá hạn"


class AlertOutcome(Term):
    """What became of one alert to one recipient (pipeline/alerts.py)."""

    SENT = "sent", "Đã gửi"
    SENDING = "sending", "Đang gửi"
    FAILED = "failed", "Gửi lỗi (sẽ gửi lại)"
    DEFERRED = "deferred", "Để lần sau (quá số thư mỗi giờ)"


class DecisionKind(Term):
    """What a staff decision says (rules/decisions.py)."""

    ASSIGN = "assign", "Gán cho đơn vị"
    IGNORE = "ignore", "Không tính"
    KIND = "kind", "Xác định loại tệp"
    EXEMPT = "exempt", "Miễn nộp"
    PAPER = "paper", "Nộp bản giấy"
    NOTE = "note", "Ghi chú"
    UNDO = "undo", "Hoàn tác"


class DecisionState(Term):
    """Whether a staff decision shapes the statuses now, and if not, why (rules/decisions.py)."""

    IN_FORCE = "in_force", "Đang áp dụng"
    REVOKED = "revoked", "Đã hoàn tác"
    SUPERSEDED = "superseded", "Đã được thay bằng điều chỉnh sau"
    MAIL_GONE = "mail_gone", "Không áp dụng: thư không còn trong dữ liệu"
    ATTACHMENT_GONE = "attachment_gone", "Không áp dụng: tệp không còn trong dữ liệu"
    UNIT_GONE = "unit_gone", "Không áp dụng: đơn vị không còn trong danh sách của đợt báo cáo"
    KIND_GONE = "kind_gone", "Không áp dụng: đợt báo cáo không còn tài liệu kèm theo này"
    CAMPAIGN_GONE = "campaign_gone", "Không áp dụng: đợt báo cáo không còn"


FLAG_LABELS: dict[str, str] = {
    **{str(kind): label for kind, label in EXTRACTOR_FLAG_LABELS.items()},
    **{flag.value: flag.label for flag in MailFlag},
    **{flag.value: flag.label for flag in StatusFlag},
}

# kind of term -> code -> label: what the SQL view `vocabulary` holds.
TERMS: dict[str, dict[str, str]] = {
    "status": {s.value: s.label for s in Status},
    "flag": FLAG_LABELS,
    "origin": {o.value: o.label for o in Origin},
    "alert": {k.value: k.label for k in AlertKind},
    "outcome": {o.value: o.label for o in AlertOutcome},
    "signature": {s.value: s.label for s in SignatureState},
    "certificate": {c.value: c.label for c in CertificateCheck},
    "decision": {k.value: k.label for k in DecisionKind},
    "decision_state": {s.value: s.label for s in DecisionState},
}


def late_attachment(attachment_id: str) -> str:
    """The flag saying an attachment arrived after the deadline."""
    return f"{StatusFlag.LATE_ATTACHMENT}:{attachment_id}"


def flag_label(kind: str, attachment_titles: dict[str, str] | None = None) -> str:
    """A flag kind in words; "late_attachment:<id>" names the attachment (by its title when given).
    An unknown kind (a newer database) shows as its code rather than vanishing."""
    base, _, arg = kind.partition(":")
    label = FLAG_LABELS.get(base, kind)
    if arg:
        label = f"{label}: {(attachment_titles or {}).get(arg, arg)}"
    return label
