"""Reaching residents: what they may hear again, its podcast feed, the QR code to it, and
the officials' calendar of planned bulletins.

Owns: `listen` (the aired, public bulletins of a commune or province, and their opaque
ids), `podcast` (RSS 2.0 with iTunes tags), `calendars` (iCalendar with RRULEs from our
recurrences, and the per-commune secret of its URL), `qr` (the code printed on posters).

May import: `broadcaster.core` and `broadcaster.onair` (what aired, and the one plan).
Nothing here knows about HTTP: `web/public.py` serves it.
"""
