"""Vietnamese speech: text normalization, the staff lexicon and TTS engines.

Owns turning a script's text into the words an announcer says (`normalize`, the pipeline,
with one reader per written form beside it: `figures`, `dates`, `units`, `symbols`,
`contacts`, `abbreviations` on `tokens`), the staff pronunciation lexicon (`lexicon`) and
the text-to-speech engines (`engines`: `engine_for`, `build_engine`, the fallback chain;
one engine a module: `gtts`, `espeak`, `piper`, sharing `synthesis`).

May import: `broadcaster.core` only.
"""
