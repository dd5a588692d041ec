"""The station agent: the program on a commune's PC or Raspberry Pi next to the amplifier.

It pulls its manifest and audio from the station API, plays each item on time from its
cache even when the server cannot be reached, and reports what it played. `runner` is the
loop and the command line (`python -m broadcaster.stations.agent`); `plan`, `store`,
`client`, `report`, `push` (the held connection) and `clock` (the server's time) are its
parts, `amplifier` (the amplifier hook, mixer, temperature) and `commands` (the province's
commands) its hardware and remote control.

May import: the standard library, `broadcaster.onair.playout`, `players` and `relay`, and
the standard-library-only modules of `broadcaster.core` (`events`, `fsutil`, `priority`).
Never SQLAlchemy, Flask or pydantic: a station runs it with Debian's python3 alone.
"""
