"""The office staff's pages inside Datasette: home, campaign, unit, mail, section, search and the
Word / Excel exports. Each page is a module with one async view; `data` reads the database (plain
sqlite3, run in Datasette's read thread), `fmt` writes dates, durations and numbers the Vietnamese
way. pipeline/datasette_plugins/intake_staff.py registers the routes.
"""
