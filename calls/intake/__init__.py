"""MiniVoice's two doors: the answer_url and the webhook receiver. A view reads the
request (`inbound`), checks its signature, calls one service (`answers`, `events`) and
answers, with every refusal in the error envelope (`errors`)."""
