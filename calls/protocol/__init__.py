"""MiniVoice's wire protocol, read and written in one place: what its requests and events
say (`contract`), how they are signed (`signatures`), and the action schema our answers
must pass (`actions`). Pure: no database, no Django models. The emulator speaks it too."""
