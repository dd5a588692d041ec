"""How urgent a play is: the levels of commune radio (thường, ưu tiên, khẩn cấp).

Standard library only: the tables, the planner and the station agent all use it.
"""

from __future__ import annotations

from enum import IntEnum


class Priority(IntEnum):
    """Commune radio priority levels: a higher value plays first in a shared slot."""

    NORMAL = 0
    PRIORITY = 1
    EMERGENCY = 2
