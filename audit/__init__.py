"""The audit trail: which staff member replayed, published, listened to, downloaded,
exported or saw in full what, when, and from where. Append-only (ARCHITECTURE.md says why
it is an app of its own, and how an append-only table is pruned)."""
