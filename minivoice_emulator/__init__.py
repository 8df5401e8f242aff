"""MiniVoice's side of the wire, played locally: the emulator.

A top-level package rather than a Django app: it is the *other* party (MiniVoice), so it
has no models, no migrations and no URLs of the app's own, and nothing in `calls/` or
`recordings/` may import it except tests and the thin management commands that drive
it. It reuses the app's published contract (`calls.contract` names, `calls.actions` for
the schema MiniVoice enforces, `calls.signatures` for Standard Webhooks signing), so a
change to the contract is felt on both sides at once.

- `payloads`: webhook envelopes and answer_url request bodies, and signing them;
- `runner`: plays one call's actions on a simulated clock (`scenarios` says what the
  caller and MiniVoice do);
- `transport`: delivers requests over HTTP, with chaos (duplicates, shuffling, a retry
  after a timeout) when asked;
- `verdict`: reads what the app recorded and compares it with what was played;
- `session`: many calls at once, with latencies;
- `api` and `wav`: MiniVoice's REST API (CONTRACT.md §3) served on loopback.
"""
