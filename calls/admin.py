"""Where Django's admin looks for an app's model admins: the console's live in
`calls.console`, one module per model group."""

from calls.console import calls, flows, logs  # noqa: F401  (registers the model admins)
