"""Does a report affirm a thing ("đã thành lập Ban Chỉ đạo") or deny it ("không thành lập Ban Chỉ đạo")?

A blank Vietnamese spaCy pipeline (no pyvi, no model download) with a punctuation-splitting
tokenizer, token norms set to folded keys, and the rule-based Matcher: a negator up to three
tokens before the phrase, inside the same clause, turns a mention into a denial.
"""

from __future__ import annotations

from functools import lru_cache

from extractors.text import fold, tokens

NEGATORS = ["khong", "chua", "chang", "chac"]  # không, chưa, chẳng, chả(c)
_GAP = 3  # tokens allowed between a negator and the phrase
_CLAUSE_GAP = f"{{0,{_GAP}}}"


@lru_cache(maxsize=1)
def _nlp():
    import spacy
    from spacy.tokenizer import Tokenizer
    from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex

    nlp = spacy.blank("vi", config={"nlp": {"tokenizer": {"use_pyvi": False}}})
    defaults = nlp.Defaults
    # The Vietnamese tokenizer splits on spaces only; punctuation glued to syllables ("đạo;")
    # would hide the phrase from the Matcher.
    nlp.tokenizer = Tokenizer(
        nlp.vocab,
        prefix_search=compile_prefix_regex(defaults.prefixes or ()).search,
        suffix_search=compile_suffix_regex(defaults.suffixes or ()).search,
        infix_finditer=compile_infix_regex(defaults.infixes or ()).finditer,
    )
    return nlp


def preload() -> None:
    """Build the pipeline now, so that worker processes forked afterwards share it instead of
    each importing spaCy (about two seconds) on its first report."""
    _nlp()


@lru_cache(maxsize=64)
def _matcher(phrases: tuple[str, ...]):
    from spacy.matcher import Matcher

    matcher = Matcher(_nlp().vocab)
    for n, phrase in enumerate(phrases):
        words = [{"NORM": t} for t in tokens(phrase)]
        if not words:
            continue
        matcher.add(f"MENTION_{n}", [words])
        matcher.add(f"DENIAL_{n}", [[{"NORM": {"IN": NEGATORS}}, {"IS_PUNCT": False, "OP": _CLAUSE_GAP}, *words]])
    return matcher


_norms: dict[int, int] = {}  # a token's text -> its folded key, both as string-store hashes


def _folded_doc(nlp, text: str):
    """The text's tokens with their norms set to folded keys. One array in and out: setting
    `token.norm_` token by token built a Token object per word and cost more than the matching."""
    import numpy
    from spacy.attrs import NORM, ORTH

    doc = nlp.make_doc(text)
    strings = nlp.vocab.strings
    norms = []
    for orth in doc.to_array([ORTH]).tolist():
        norm = _norms.get(orth)
        if norm is None:
            word = strings[orth]
            norm = _norms[orth] = strings.add(fold(word) or word)
        norms.append(norm)
    doc.from_array([NORM], numpy.array(norms, dtype=numpy.uint64).reshape(-1, 1))
    return doc, norms


def _windows(norms: list[int], firsts: set[int], reach: int) -> list[tuple[int, int]]:
    """Where a match can lie: from a negator and its gap before a phrase's first word to the end
    of the longest phrase. The Matcher costs about a microsecond a token, and a report names the
    phrase in a few places among a thousand tokens; every match lies inside one of these windows."""
    windows: list[list[int]] = []
    for i, norm in enumerate(norms):
        if norm in firsts:
            start, end = max(0, i - 1 - _GAP), min(len(norms), i + reach)
            if windows and start <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], end)
            else:
                windows.append([start, end])
    return [(start, end) for start, end in windows]


def mention(text: str, phrases: list[str] | tuple[str, ...]) -> bool | None:
    """True when the text affirms one of the phrases at least once, False when every mention is
    denied, None when none is mentioned."""
    if not text or not phrases:
        return None
    nlp = _nlp()
    strings = nlp.vocab.strings
    doc, norms = _folded_doc(nlp, text)
    wanted = [tokens(phrase) for phrase in phrases]
    firsts = {strings.add(words[0]) for words in wanted if words}
    matcher = _matcher(tuple(phrases))
    matches = [(match_id, start + at, end + at) for at, stop in _windows(norms, firsts, max(map(len, wanted)))
               for match_id, start, end in matcher(doc[at:stop])]
    denied_ends = {end for match_id, _, end in matches if strings[match_id].startswith("DENIAL_")}
    mentions = [end for match_id, _, end in matches if strings[match_id].startswith("MENTION_")]
    if not mentions:
        return None
    return any(end not in denied_ends for end in mentions)
