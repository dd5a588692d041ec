"""The newsroom: scripts, their immutable versions and approval, script files, users.

Owns: `workflow` (versions and the four-eyes approval), `scriptfiles` (scripts/ as
Markdown), `templating` ({ten_xa} and friends), `users` (accounts, passwords, throttling).

May import: `broadcaster.core` and `broadcaster.speech` (a version freezes its lexicon at
approval).
"""
