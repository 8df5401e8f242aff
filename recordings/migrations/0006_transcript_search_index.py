"""The GIN index that serves the search by words said (recordings.search). PostgreSQL
only: SQLite has no such index and searches plainly, so the index is not in the model's
Meta (its CREATE INDEX … USING gin would fail there).

Built CONCURRENTLY, so this migration is not atomic: on a table of millions of
recordings a plain CREATE INDEX would block the workers' writes for as long as it takes.
"""

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

INDEX = GinIndex(fields=["transcript_search"], name="recordings_transcript_search")


def add_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        recording = apps.get_model("recordings", "Recording")
        schema_editor.add_index(recording, INDEX, concurrently=True)


def remove_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        recording = apps.get_model("recordings", "Recording")
        schema_editor.remove_index(recording, INDEX, concurrently=True)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("recordings", "0005_transcript_search"),
    ]

    operations = [migrations.RunPython(add_index, remove_index, elidable=False)]
