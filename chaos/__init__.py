"""Fault scenarios run against real processes (`make chaos`); see docs/CHAOS.md."""
