"""Does a report affirm a thing ("đã thành lập Ban Chỉ đạo") or deny it ("không thành lập Ban Chỉ đạo")?

A blank Vietnamese spaCy pipeline (no pyvi, no model download) with a punctuation-splitting
tokenizer, token norms set to folded keys, and the rule-based Matcher: a negator up to three
tokens before the phrase, inside the same clause, turns a mention into a denial.
"""

from __future__ import annotations

from functools import lru_cache

from extractors.text import fold, tokens

NEGATORS = ["khong", "chua", "chang", "chac"]  # không, chưa, chẳng, chả(c)
_CLAUSE_GAP = "{0,3}"


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


def mention(text: str, phrases: list[str] | tuple[str, ...]) -> bool | None:
    """True when the text affirms one of the phrases at least once, False when every mention is
    denied, None when none is mentioned."""
    if not text or not phrases:
        return None
    nlp = _nlp()
    doc = nlp.make_doc(text)
    for token in doc:
        token.norm_ = fold(token.text) or token.text
    matches = _matcher(tuple(phrases))(doc)
    strings = nlp.vocab.strings
    denied_ends = {end for match_id, _, end in matches if strings[match_id].startswith("DENIAL_")}
    mentions = [end for match_id, _, end in matches if strings[match_id].startswith("MENTION_")]
    if not mentions:
        return None
    return any(end not in denied_ends for end in mentions)
