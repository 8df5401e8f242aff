"""The audit trail is append-only on PostgreSQL: a trigger refuses every UPDATE and every
DELETE of its rows, except the prune's DELETE of rows older than the retention its
transaction names (`SET LOCAL minivoice.audit_retention_seconds`, at least a day, measured
on the database's clock; audit/retention.py).

PostgreSQL only, as recordings 0005's trigger is: SQLite has the model's own refusal in
Python. No TRUNCATE trigger: TRUNCATE is the table owner's (a test database is emptied
that way), and no row-level trigger sees it.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION audit_entry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    keep_seconds text := current_setting('minivoice.audit_retention_seconds', true);
BEGIN
    IF TG_OP = 'DELETE'
       AND keep_seconds ~ '^[0-9]{1,12}$'
       AND keep_seconds::bigint >= 86400
       AND OLD.at < now() - make_interval(secs => keep_seconds::bigint) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_auditentry is append-only: % of entry % refused', TG_OP, OLD.id
        USING HINT = 'Only prune_audit deletes, and only entries older than MINIVOICE_AUDIT_RETENTION.';
END
$$;
CREATE TRIGGER audit_auditentry_append_only
BEFORE UPDATE OR DELETE ON audit_auditentry
FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS audit_auditentry_append_only ON audit_auditentry;
DROP FUNCTION IF EXISTS audit_entry_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)  # its % are plpgsql's, not placeholders


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_trigger, drop_trigger, elidable=False),
    ]
