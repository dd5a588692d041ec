"""Accountability: what aired, what did not, and where the campaign lags.

Owns: `reports` (broadcast log, compliance, exports, retention), `adoption` (Bluezone
figures per commune), `alerts` (the daily summary), `upward` and `upward_export` (the
report upward in TT39 terms, docs/REPORTING.md).

May import: `broadcaster.core`, `broadcaster.onair`, `broadcaster.stations`.
"""
