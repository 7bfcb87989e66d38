"""The office staff's pages (pipeline/staff/), served by `intake serve` behind the same login and
reading the same database (loaded from plugins_dir): their routes, the downloads, the one route that
writes (staff decisions, pipeline/staff/corrections.py), and what every template is given (links,
the office's name, Vietnamese for Datasette's messages)."""

from __future__ import annotations

from datasette import hookimpl

from pipeline.staff import campaign, corrections, downloads, exports, home, mail, search, section, unit
from pipeline.staff.page import links

# Datasette's own flash messages, as staff read them.
MESSAGES = {"You are now logged out": "Bạn đã đăng xuất."}


@hookimpl
def register_routes():
    return downloads.ROUTES + [
        (r"^/$", home.view),
        (r"^/-/campaign/(?P<campaign>[^/]+)$", campaign.view),
        (r"^/-/campaign/(?P<campaign>[^/]+)/section/(?P<key>[^/]+)$", section.view),
        (r"^/-/campaign/(?P<campaign>[^/]+)/summary\.docx$", exports.summary_view),
        (r"^/-/campaign/(?P<campaign>[^/]+)/status\.xlsx$", exports.status_view),
        (r"^/-/unit/(?P<unit>[^/]+)$", unit.view),
        (r"^/-/mail/(?P<mail>[^/]+)$", mail.view),
        (r"^/-/search$", search.view),
        (rf"^{corrections.DECIDE_PATH}$", corrections.post),
    ]


@hookimpl
def asgi_wrapper(datasette):
    return corrections.csrf_failure_in_vietnamese


@hookimpl
def extra_template_vars(datasette):
    config = datasette.plugin_config("intake") or {}
    return {
        "links": links(datasette),
        "office_name": config.get("office_name") or datasette.metadata("title") or "intake",
        "message_words": MESSAGES,
    }
