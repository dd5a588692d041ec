from datetime import timedelta

from broadcaster.audio.store import AudioStore, collect_garbage
from broadcaster.core.dbtypes import utcnow


def test_a_write_abandoned_by_a_dead_process_is_collected(session, tmp_path):
    store = AudioStore(tmp_path / "store")
    # What fsutil.replacing leaves when the process dies between writing and renaming.
    abandoned = store.root / "ab" / ".abc.mp3.k3j9x2.tmp"
    abandoned.parent.mkdir(parents=True)
    abandoned.write_bytes(b"half a file")
    removed = collect_garbage(
        session=session,
        store=store,
        retention=timedelta(days=30),
        now=utcnow() + timedelta(days=31),
    )
    assert removed == 1 and not abandoned.exists()
