"""Audio: the render pipeline, the content-addressed store, profiles and chimes.

Owns: `render` (text to broadcast-ready MP3, the audio store), `profiles`, `jingles` (the
shipped chimes), `customjingles` (chimes uploaded by an admin), `objectstore` (the optional
S3-compatible copy of the store).

May import: `broadcaster.core`, `broadcaster.speech` and `broadcaster.newsroom`.
"""
