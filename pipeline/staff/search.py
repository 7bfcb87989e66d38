"""Search `/-/search?q=…`: sections of the reports holding the words typed, with or without
diacritics, as snippets with the words highlighted, each with its unit, campaign, section title and
a link to the file. Current reports by default; older versions on request, marked as such."""

from __future__ import annotations

import re
from functools import lru_cache

from markupsafe import Markup, escape

from extractors.text import fold
from pipeline.staff import data
from pipeline.staff.page import open_database, part, read, render

WINDOW = 30  # words shown on each side of the first match
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=1 << 16)
def _word_key(word: str) -> str:
    """A word's folded key (reports share most of their words: folded once each)."""
    return fold(word)


def snippet(text: str, terms: list[str], window: int = WINDOW) -> Markup:
    """The words around the first place `terms` occur in a row, every such run marked (<mark>);
    words compare folded, so "quy che" marks "quy chế". Everything from the report is escaped."""
    words = list(_WORD.finditer(text))
    if not words:
        return Markup("")
    keys = [_word_key(w.group()) for w in words]
    n = len(terms)
    starts = [i for i in range(len(keys) - n + 1) if keys[i:i + n] == terms] if n else []
    first = starts[0] if starts else 0
    lo, hi = max(0, first - window), min(len(words), first + n + window if starts else 2 * window)
    begin, end = words[lo].start(), words[hi - 1].end()
    out, pos = [Markup("…") if lo > 0 else Markup("")], begin
    for i in starts:
        if i < lo or i + n > hi:
            continue
        a, b = words[i].start(), words[i + n - 1].end()
        out += [escape(text[pos:a]), Markup("<mark>"), escape(text[a:b]), Markup("</mark>")]
        pos = b
    out.append(escape(text[pos:end]))
    if end < len(text.rstrip()):
        out.append(Markup("…"))
    return Markup("").join(out)


def _load(conn, text: str, campaign_id: str | None, include_old: bool):
    hits, more = data.search(conn, text, campaign_id or None, include_old)
    return {c.id: c for c in data.campaigns(conn)}, hits, more


async def view(datasette, request):
    db = await open_database(datasette, request)
    text = (request.args.get("q") or "").strip()
    campaign_id = request.args.get("dot") or ""
    include_old = request.args.get("cu") == "1"
    campaigns, hits, more = await read(db, _load, text, campaign_id, include_old)
    terms = data.search_terms(text)
    results = []
    for hit in hits:
        info = campaigns.get(hit.campaign_id or "")
        body = snippet(hit.text, terms)
        if terms and "<mark>" not in body:  # the words were in the heading
            body = snippet(hit.heading, terms) + Markup(" — ") + snippet(hit.text, [], WINDOW)
        results.append({"hit": hit, "info": info, "snippet": body,
                        "section": info.section_words(hit.key) if info and not hit.key.startswith("+")
                        else hit.heading})
    return await render(datasette, request, "staff_search.html", {
        "search_query": text, "campaign_id": campaign_id, "include_old": include_old,
        "campaigns": list(campaigns.values()), "results": results, "more": more, "searched": bool(terms),
        "result_list": part(datasette, "_intake_results.html", results=results),
    })
