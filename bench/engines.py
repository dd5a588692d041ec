"""Real-time factor of espeak-ng for each regional voice.

RTF = synthesis time / audio duration.  The floor is 1.0: above it the fallback engine
could not keep up with a live broadcast.  "ratio" is the headroom, floor / RTF.

Run: .venv/bin/python bench/engines.py   (exits 1 if any voice is slower than real time)
"""

from __future__ import annotations

import io
import sys
import time
import wave
from pathlib import Path

FLOOR = 1.0
ROUNDS = 3

# 60-70 words each, in the register of real commune announcements.
SENTENCES = (
    "Thông báo của Ủy ban nhân dân xã: để chủ động phòng chống dịch bệnh cho đàn gia súc, "
    "gia cầm, từ ngày mười lăm đến ngày hai mươi tháng này, cán bộ thú y sẽ đến từng thôn "
    "tiêm phòng miễn phí. Đề nghị các hộ chăn nuôi nhốt giữ vật nuôi tại chuồng, chuẩn bị "
    "dụng cụ và phối hợp với cán bộ để việc tiêm phòng được an toàn, nhanh chóng.",
    "Theo dự báo của Trung tâm khí tượng thủy văn, trong hai ngày tới khu vực ta có mưa to "
    "đến rất to, có nơi trên một trăm milimét, nguy cơ lũ quét và sạt lở đất rất cao. Bà "
    "con không đi qua ngầm tràn, suối sâu, không vớt củi trên sông, chằng chống nhà cửa và "
    "chuẩn bị lương thực, nước uống, đèn pin.",
    "Ủy ban nhân dân xã trân trọng kính mời đại diện các hộ gia đình đến dự buổi họp lấy ý "
    "kiến về kế hoạch làm đường giao thông nông thôn vào lúc tám giờ sáng chủ nhật tuần này "
    "tại hội trường thôn. Sự có mặt đầy đủ, đúng giờ của bà con sẽ góp phần quan trọng vào "
    "thành công của công trình chung.",
)


def audio_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes() / wav.getframerate()


def main() -> int:
    # Running as a script puts bench/ on sys.path, not the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from broadcaster.core.voices import VOICES
    from broadcaster.speech.engines import EngineError, EspeakEngine

    engine = EspeakEngine()
    slow = False
    for voice in VOICES:
        try:
            # Warm-up: the first run pays for loading voice and dictionary files from disk.
            engine.synthesize(SENTENCES[0], voice=voice, speed=1.0)
        except EngineError as exc:
            print(f"espeak-ng {voice}: unavailable: {exc}")
            return 1
        synth_time = 0.0
        audio_time = 0.0
        for _ in range(ROUNDS):
            for sentence in SENTENCES:
                started = time.perf_counter()
                speech = engine.synthesize(sentence, voice=voice, speed=1.0)
                synth_time += time.perf_counter() - started
                audio_time += audio_seconds(speech.data)
        rtf = synth_time / audio_time
        slow |= rtf >= FLOOR
        words = sum(len(sentence.split()) for sentence in SENTENCES) / len(SENTENCES)
        print(
            f"espeak-ng {voice}: RTF {rtf:.4f} (floor {FLOOR:.1f}) ratio {FLOOR / rtf:.1f}"
            f"  [{audio_time / ROUNDS:.1f}s audio for {len(SENTENCES)} x ~{words:.0f} words]"
        )
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
