"""`make bench-recordings`: recordings' audio work, measured (issue 17, item 9).

    python -m bench.recordings [--quick] [--hours H] [--lag-seconds S] [--rounds N] ...

Starts, on loopback, a PostgreSQL database of its own, Redis, gunicorn (as `make bench`
does), the emulator's REST API (`manage.py minivoice_emulator`) and the events worker.
Then: a long recording (one hour by default, 8 kHz 16-bit mono) downloaded over plain
HTTP (throughput), and fetched by the recordings worker (production's command, `-Q
recordings`) while its pool process's resident memory is sampled from /proc; the shipped
flows' prompts, spoken by the emulator's voice (espeak-ng), transcribed through the app's
own code with the default model (real-time factor per core, word error rate); and event
processing's lag p99 at a fixed intake rate, with the events worker alone and while a
recordings worker fetches and transcribes. One table, JSON in artifacts/. See
bench/README.md, "Reading `make bench-recordings`".

`command` (the options and the run in order), `phases` (download, fetch and memory,
transcription), `lag` (the lag rounds), `calls` (the recorded calls made known: the
emulator, signed webhooks, task names), `speech` (what they say), `emulator`,
`memory` (/proc), `transcribe` (the timed transcription, a process of its own), `wer`
(word error rate), `report` (figures, targets, the table).
"""
