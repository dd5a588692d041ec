"""The daily summary, and its e-mail through a real SMTP conversation on loopback."""

import socketserver
import threading

import pytest

from tests.accountability.test_reports import DAY, history  # noqa: F401  (fixture)
from tests.helpers import free_port, run_cli


class MiniSMTP(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 to receive one message: the peer smtplib talks to."""

    received: list[bytes] = []

    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        self.reply("220 test ESMTP")
        while line := self.rfile.readline():
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                self.reply("250 test")
            elif command.startswith((b"MAIL", b"RCPT", b"RSET", b"NOOP")):
                self.reply("250 ok")
            elif command == b"DATA":
                self.reply("354 go on")
                body = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    body += chunk
                MiniSMTP.received.append(body)
                self.reply("250 queued")
            elif command == b"QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 no")


@pytest.fixture
def smtp_server():
    MiniSMTP.received = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", free_port()), MiniSMTP)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_summary_lists_misses_with_reasons(session, history):  # noqa: F811
    from broadcaster.accountability.alerts import daily_summary

    summary = daily_summary(session, day=DAY)
    text = summary.text()
    assert summary.planned == 4 and summary.played == 3
    assert "Đã phát 3 / 4 lượt" in text and "thời gian cho phép" in text
    assert "Phường Phú Xuân, 06:00" in text


def test_the_summary_is_e_mailed_when_smtp_is_configured(settings, session, history, smtp_server):  # noqa: F811
    result = run_cli(
        settings,
        "report",
        "summary",
        "--day",
        DAY.isoformat(),
        "--send",
        BROADCASTER_SMTP_HOST="127.0.0.1",
        BROADCASTER_SMTP_PORT=str(smtp_server),
        BROADCASTER_ALERT_EMAILS="vhtt@hue.gov.vn, lanhdao@hue.gov.vn",
    )
    assert result.returncode == 0, result.stderr
    assert "sent to vhtt@hue.gov.vn, lanhdao@hue.gov.vn" in result.stderr
    assert len(MiniSMTP.received) == 1
    from email import message_from_bytes, policy

    mail = message_from_bytes(MiniSMTP.received[0], policy=policy.default)
    assert mail["Subject"].startswith("Kết quả phát ngày 30/11/2026: 3/4")
    assert "thời gian cho phép" in mail.get_content()


def test_without_smtp_it_says_what_to_set(settings):
    result = run_cli(settings, "report", "summary", "--send")
    assert result.returncode == 1 and "BROADCASTER_SMTP_HOST" in result.stderr


def test_an_unreachable_smtp_server_is_a_clear_error(settings):
    result = run_cli(
        settings,
        "report",
        "summary",
        "--send",
        BROADCASTER_SMTP_HOST="127.0.0.1",
        BROADCASTER_SMTP_PORT=str(free_port()),
        BROADCASTER_ALERT_EMAILS="a@b.vn",
    )
    assert result.returncode == 1 and "cannot send the summary" in result.stderr
    assert "Traceback" not in result.stderr
