import io

from broadcaster.audio.ffmpeg import _pump


def test_a_dead_measurer_never_stalls_the_encoder():
    class DeadPipe:
        closed = False

        def write(self, data):
            raise BrokenPipeError

        def close(self):
            self.closed = True

    source = io.BufferedReader(io.BytesIO(b"x" * 300_000))
    chunks: list[bytes] = []
    sink = DeadPipe()
    _pump(source, [sink], chunks)
    assert b"".join(chunks) == b"x" * 300_000 and sink.closed
