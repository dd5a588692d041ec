"""On air: recurrence, schedules and their plan, occurrences, playout, the scheduler.

Owns: `recurrence` (pure: slots to instants), `schedules` (schedules, targets, `plan()`),
`occurrences` (materialize, render ahead, claim, grace window, misses), `reasons` (why a
play did not happen), `playout` (players and the station queue), `scheduler` (the
APScheduler process and local playout).

May import: `broadcaster.core`, `broadcaster.newsroom`, `broadcaster.audio`,
`broadcaster.stations` (the scheduler prunes the manifest log). `playout` and
`recurrence` import nothing from broadcaster but each other: the agent uses them.
"""
