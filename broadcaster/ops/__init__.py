"""Running the system: backup and restore, health, metrics, the supervisor, the demo.

May import: any other part of broadcaster; nothing but `broadcaster.cli` imports this one
(and `web/` for health and metrics).
"""
