"""On air: recurrence, schedules and their plan, occurrences, playout, the scheduler.

Owns: `recurrence` (pure values: when a schedule plays; `planner` turns them into instants,
`wording` into a summary), `schedules` (schedules, targets, `plan()`; `schedulefiles` for
YAML), `occurrences` (materialize and claim; `playlog` for the grace window, the log and
outcomes, `prerender` for rendering ahead, `misses` for the sweep), `reasons` (why a play
did not happen), `playout` (players, `relay` the relay player, and the station queue of
cues: a relay pauses for a higher priority and resumes), `scheduler` (the
APScheduler process; `jobs` its jobs, `trigger` the schedules' trigger, `localplayout` the
stations this machine plays).

May import: `broadcaster.core`, `broadcaster.newsroom`, `broadcaster.audio`,
`broadcaster.stations` (the scheduler prunes the manifest log). `playout`, `players`, `relay`,
`recurrence`, `planner` and `wording` import nothing from broadcaster but each other and
the stdlib-only `core.errors` and `core.events`: the agent uses them.
"""
