# The send stamps recovery reads: a webhook event's (was recovered_at) and a push's.

from django.db import migrations, models
from django.db.models import F


def stamp_rows_in_flight(apps, schema_editor):
    """Rows from before the stamp count as sent when they last changed, so that recovery does
    not double a message that is still in flight at the upgrade."""
    apps.get_model("photosync", "WebhookEvent").objects.filter(sent_at__isnull=True).update(
        sent_at=F("received_at"))
    apps.get_model("photosync", "Push").objects.filter(sent_at__isnull=True).update(
        sent_at=F("updated_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('photosync', '0007_energy_carbon'),
    ]

    operations = [
        migrations.RenameField(
            model_name='webhookevent',
            old_name='recovered_at',
            new_name='sent_at',
        ),
        migrations.AddField(
            model_name='push',
            name='sent_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(stamp_rows_in_flight, migrations.RunPython.noop),
    ]
