"""Broadcaster: scheduled announcements for grassroots loudspeaker systems."""

__version__ = "0.1.0"
