"""The `broadcaster` command: parse, call the core, print.

May import: any part of broadcaster. Nothing in the core imports it.
"""
