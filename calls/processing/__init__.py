"""Applying stored webhook events to their calls, in worker batches (`batch`), one small
handler per event type (`handlers`), and handing events to the workers again (`handover`)."""
