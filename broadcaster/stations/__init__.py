"""Stations: the commune systems, the station API core, and the agent that runs on them.

Owns: `registry` (creating and validating stations), `api` (tokens, manifest, audio
access, events, heartbeats), `manifestcache`, `heartbeats`, `ratelimit`, `monitoring`
(online / late / offline), `agent` (the program on the commune PC).

May import: `broadcaster.core`, `broadcaster.onair`, `broadcaster.audio`. The agent is
the exception: it runs on a station with the standard library and
`broadcaster.onair.playout`, `players` and `relay` only, never SQLAlchemy or Flask.
"""
