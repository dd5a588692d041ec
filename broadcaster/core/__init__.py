"""The ground floor: settings, the database and its tables, logging, file and text helpers.

Owns: `config` (BROADCASTER_* settings), `db` (engine, sessions, migrations), `dbtypes`,
`models` (every SQLModel table), `areas` (provinces, communes, groups), `audit`, `logs`,
`fsutil` (durable writes), `text`.

May import: the standard library and third-party packages only, never another part of
broadcaster. Every other package may import this one.
"""
