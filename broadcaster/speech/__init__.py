"""Vietnamese speech: text normalization, the staff lexicon and TTS engines.

Owns turning an approved script's text into the words an announcer says
(``normalize``), the staff pronunciation lexicon (``lexicon``) and the text-to-speech
engines (``engines``: ``engine_for``, ``build_engine``, ``speak_to_file``). It may import
``broadcaster.core`` only.
"""
