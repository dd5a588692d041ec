from broadcaster.core.events import AGENT_EVENT_KINDS, EventKind


def test_a_kind_is_its_stored_string():
    # playevent.kind holds plain strings written before the enum existed.
    assert EventKind.RENDER_FAILED == "render_failed"
    assert f"{EventKind.STARTED}" == "started"


def test_agents_report_only_what_happens_on_their_speakers():
    assert EventKind.MISSED not in AGENT_EVENT_KINDS
    plays = {"started", "finished", "failed", "skipped", "interrupted"}
    relays = {"relay_connected", "relay_dropped", "relay_fallback", "relay_restored"}
    assert set(AGENT_EVENT_KINDS) == plays | relays | {"relay_paused", "relay_resumed"}
