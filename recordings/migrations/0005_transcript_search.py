"""Full-text search over what was said (recordings.search): the transcript's words in a
tsvector column that PostgreSQL keeps itself, by a trigger on every insert and update.

Stored rather than computed in each query: PostgreSQL's planner takes `to_tsvector` to be
cheap, and on a million calls a call list searched for a word said now and then walked
the calls newest first computing it for each one (seconds). Kept by a trigger rather than
by our code, so that every write of `transcript` (transcribing, pruning, a fix by hand)
keeps it true, and a cleared transcript can no longer be found.

On SQLite the column is there and stays empty: the search is a plain match.
The GIN index comes in 0006, built concurrently.
"""

import django.contrib.postgres.search
from django.db import migrations

CREATE_TRIGGER = """
CREATE TRIGGER recordings_transcript_search_update
BEFORE INSERT OR UPDATE OF transcript ON recordings_recording
FOR EACH ROW EXECUTE FUNCTION
    tsvector_update_trigger(transcript_search, 'pg_catalog.english', transcript)
"""
DROP_TRIGGER = "DROP TRIGGER IF EXISTS recordings_transcript_search_update ON recordings_recording"
# Rows transcribed before the trigger: the update fires it (the column is `transcript`).
BACKFILL = "UPDATE recordings_recording SET transcript = transcript WHERE transcript <> ''"


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRIGGER)
        schema_editor.execute(BACKFILL)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [
        ("recordings", "0004_transcripts"),
    ]

    operations = [
        migrations.AddField(
            model_name="recording",
            name="transcript_search",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(add_trigger, drop_trigger, elidable=False),
    ]
