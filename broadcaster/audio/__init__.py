"""Audio: the render pipeline, the content-addressed store, profiles and chimes.

Owns: `render` (text to broadcast-ready MP3: the public face of rendering, built from
`ffmpeg` (the processes and measurements), `pipeline` (conditioning, chimes, joining,
tags), `store` (the content-addressed audio store) and `versions` (a script version as it
goes on air)), `profiles`, `jingles` (the shipped chimes), `customjingles` (chimes
uploaded by an admin: the face of `jinglecheck`, `jinglelevel`, `jinglefiles` and
`jingleprofiles`), `objectstore` (the optional S3-compatible copy of the store).

May import: `broadcaster.core`, `broadcaster.speech` and `broadcaster.newsroom`.
"""
