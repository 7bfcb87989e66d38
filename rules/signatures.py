"""What digital signatures (ký số) show, and what the campaign's `signature: required` asks of a report.

A file's signatures are read and verified by extractors/signatures.py; here they are judged. A file is
intact when one of its signatures covers it as it now is: the signed bytes verify and nothing but
signatures, annotations or form fields changed after it (a second signer's signature alters nothing).
It is altered when a signature no longer matches, or the file changed after it; unverified when its
signatures could not be checked (a .docx XML signature is only read). Whether the certificate's chain
is trusted is shown to staff, not judged here: the call asks for a signed report, and the office's
trust bundle is optional.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from rules.campaign import SIGNATURE_REQUIRED, Campaign
from rules.facts import DocumentFacts
from rules.vocabulary import SignatureState, StatusFlag


class Verdict(Protocol):
    """A signature's checks (extractors.model.Signature, rules.facts.SignatureFacts)."""

    @property
    def intact(self) -> bool | None: ...

    @property
    def modified_after_signing(self) -> bool | None: ...


def signature_state(signatures: Iterable[Verdict]) -> SignatureState | None:
    """What a file's signatures (or one, in a list) show as a whole; None when it has none."""
    states = {_state(s) for s in signatures}
    for state in (SignatureState.INTACT, SignatureState.ALTERED, SignatureState.UNVERIFIED):
        if state in states:
            return state
    return None


def _state(signature: Verdict) -> SignatureState:
    if signature.intact is False or signature.modified_after_signing is True:
        return SignatureState.ALTERED
    if signature.intact and signature.modified_after_signing is False:
        return SignatureState.INTACT
    return SignatureState.UNVERIFIED


def missing_signature(campaign: Campaign, report: DocumentFacts) -> StatusFlag | None:
    """What the signature rule finds missing in the current report (its signatures are those of every
    file holding its text, rules/same_report.py): None when the campaign does not require one or the
    report is intact; `signature_invalid` when it was altered after signing; else `unsigned`."""
    if campaign.signature != SIGNATURE_REQUIRED:
        return None
    state = signature_state(report.signatures)
    if state == SignatureState.INTACT:
        return None
    return StatusFlag.SIGNATURE_INVALID if state == SignatureState.ALTERED else StatusFlag.UNSIGNED
