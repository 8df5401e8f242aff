"""MiniVoice's side of the wire, played locally: the emulator.

An app of its own with no models, no migrations and no URLs: it is the *other* party
(MiniVoice), installed only so that its management commands (`minivoice_emulator`,
`simulate_call`, `send_webhook`) are found, and nothing in `calls/` or `recordings/`
imports it except tests (an import-linter contract says so). It reuses the app's wire
protocol (`calls.protocol`: the `contract`'s names, the `actions` schema MiniVoice
enforces, Standard Webhooks `signatures`), so a change to the contract is felt on both
sides at once.

- `payloads`: webhook envelopes and answer_url request bodies, and signing them;
- `runner`: plays one call's actions on a simulated clock (`scenarios` says what the
  caller and MiniVoice do);
- `transport`: delivers requests over HTTP, with chaos (duplicates, shuffling, a retry
  after a timeout) when asked;
- `verdict`: reads what the app recorded and compares it with what was played;
- `session`: many calls at once, with latencies;
- `api` and `wav`: MiniVoice's REST API (CONTRACT.md §3) served on loopback.
"""
