"""The agent's side of the province's commands: act on each id once, report the result.

Commands arrive in the heartbeat's answer (or from GET /api/v1/commands when something
wakes the agent). Each id is written to agent.db before the agent acts, so a command
delivered again (its result lost on the way, or the agent restarted) is never acted on
twice; its stored result is reported again instead. "restart" stores its result, tries
to report it, then stops the agent with RESTART_EXIT, which systemd answers by starting
it again (Restart=always). The test tone is the agent's own generated tone, played
through the queue like any item: a command can carry nothing else to the loudspeaker.

A mixin of Agent, which provides `store`, `client`, `queue`, `amplifier`, `volumes`,
`cache_dir`, `sync()` and `stop()`.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from broadcaster.onair.playout import Cue
from broadcaster.stations.agent.amplifier import write_test_tone
from broadcaster.stations.agent.client import HttpError

log = logging.getLogger("broadcaster.stations.agent")

RESTART_EXIT = 75  # EX_TEMPFAIL: "try again", which is what systemd does
# A restart waits for the item on air to end (it may be an emergency), but no longer
# than this: a player that hangs is one reason to restart.
RESTART_WAIT_S = 600.0
TONE_SECONDS = 3.0
KINDS = ("test_tone", "set_volume", "amplifier", "sync", "restart")


class Commands:
    exit_code: int
    _results_waiting: bool
    _restart: tuple[int, float] | None = None  # (command id, monotonic deadline)

    def tone_cue(self, command_id: int, now: datetime) -> Cue:
        path = write_test_tone(self.cache_dir / "test-tone.wav", TONE_SECONDS)
        # A negative occurrence id: the queue's events for it are the command's, never
        # play events of an occurrence (see Agent._on_event).
        return Cue(
            at=now,
            rank=0,
            schedule_id=0,
            occurrence_id=-command_id,
            path=path,
            duration_s=TONE_SECONDS,
        )

    def recover_commands(self) -> None:
        """A command the agent was acting on when it stopped: failed, never acted on again."""
        for command_id, kind in self.store.unfinished_commands():
            self.store.finish_command(
                command_id, "failed", f"{kind}: the agent stopped before it was done"
            )
            self._results_waiting = True

    def handle_commands(self, commands: Any) -> None:
        if not isinstance(commands, list):
            return
        for command in commands:
            try:
                command_id = int(command["id"])
                kind = str(command["kind"])
                args = command.get("args") or {}
            except (KeyError, TypeError, ValueError):
                log.error("commands: ignoring one I cannot read: %r", command)
                continue
            if not self.store.begin_command(command_id, kind):
                log.info("commands: %s was handled before; not acting again", command_id)
                self._results_waiting = True  # its result may still be unreported
                continue
            log.info("commands: %s %s %s", command_id, kind, args or "")
            try:
                outcome = self._act(command_id, kind, args)
            except Exception as exc:  # a bad command must not take the agent down
                log.exception("commands: %s failed", command_id)
                outcome = ("failed", f"unexpected: {exc}")
            if outcome is not None:
                self.store.finish_command(command_id, *outcome)
                self._results_waiting = True
            if kind == "restart" and outcome is not None and outcome[0] == "done":
                self._restart_now()
                return
        self.report_commands()

    def _restart_now(self) -> None:
        self.report_commands()
        self.exit_code = RESTART_EXIT
        self.stop()

    def _act(self, command_id: int, kind: str, args: dict) -> tuple[str, str] | None:
        """(state, result), or None when the result comes later (the tone plays first)."""
        if kind == "test_tone":
            self.queue.submit(self.tone_cue(command_id, self.clock()))
            return None
        if kind == "set_volume":
            percent = args.get("percent")
            if isinstance(percent, bool) or not isinstance(percent, int):
                return "failed", "set_volume needs a whole percent"
            if not 0 <= percent <= 100:
                return "failed", "set_volume needs a percent from 0 to 100"
            self.volumes.normal = percent
            self.store.put(volume_normal=str(percent))
            if not self.volumes.mixer.available:
                return "failed", self.volumes.mixer.set(percent)  # says "no mixer"
            if not self.queue.idle():  # not in the middle of an item, perhaps an emergency
                return "done", f"volume {percent}% from the next normal item"
            error = self.volumes.apply(0)
            return ("failed", error) if error else ("done", f"volume {percent}%")
        if kind == "amplifier":
            on = args.get("on")
            if not isinstance(on, bool):
                return "failed", "amplifier needs on: true or false"
            error = self.amplifier.switch(on, why="command from the province", manual=True)
            return ("failed", error) if error else ("done", f"amplifier {'on' if on else 'off'}")
        if kind == "sync":
            if self.sync():
                with self._plays_lock:
                    count = len(self.plays)
                return "done", f"manifest synced: {count} plays"
            return "failed", "the manifest could not be fetched"
        if kind == "restart":
            if self.queue.idle():
                return "done", "restarting"
            log.info("commands: restarting once the item on air ends")
            self._restart = (command_id, time.monotonic() + RESTART_WAIT_S)
            return None
        return "failed", f"unknown command {kind!r}"

    def tone_finished(self, command_id: int, kind: str, detail: str) -> None:
        if kind == "finished":
            self.store.finish_command(command_id, "done", "test tone played")
        elif kind in ("failed", "interrupted"):
            self.store.finish_command(command_id, "failed", f"test tone {kind}: {detail}")
        else:
            return
        self._results_waiting = True
        self._wake.set()

    def fetch_commands(self) -> bool:
        """Ask for pending commands now (what a push wake-up calls); False if unreachable."""
        try:
            answer = self.client.get("/commands")
        except (OSError, HttpError, ValueError) as exc:
            log.warning("commands: cannot fetch: %s", exc)
            return False
        self.handle_commands(answer.get("commands"))
        return True

    def report_commands(self) -> None:
        """Send each finished command's result; the server keeps the first of repeats.

        Called on every turn of the agent's loop: also where a deferred restart happens.
        """
        if self._restart is not None:
            command_id, deadline = self._restart
            if self.queue.idle() or time.monotonic() >= deadline:
                self._restart = None
                waited = "" if self.queue.idle() else " (the item on air did not end)"
                self.store.finish_command(command_id, "done", "restarting" + waited)
                self._results_waiting = True
                self._restart_now()
                return
        if not self._results_waiting:
            return
        self._results_waiting = False
        for command_id, state, result in self.store.unreported_commands():
            try:
                self.client.post(
                    f"/commands/{command_id}/result", {"state": state, "result": result}
                )
            except HttpError as exc:
                if exc.status in (404, 422):
                    log.error("commands: the server refused the result of %s: %s", command_id, exc)
                    self.store.mark_command_reported(command_id)
                    continue
                self._results_waiting = True
                return
            except (OSError, ValueError) as exc:
                log.warning("commands: result of %s not sent yet: %s", command_id, exc)
                self._results_waiting = True
                return
            self.store.mark_command_reported(command_id)
            log.info("commands: reported %s %s (%s)", command_id, state, result)
