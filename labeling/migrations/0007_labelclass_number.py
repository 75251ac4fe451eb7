"""Each class gets the stable number exports write as its id. Existing classes are numbered in their current
class order, so the ids a project's earlier exports wrote (1-based positions in that order) stay the same."""

from django.db import migrations, models


def number_classes(apps, schema_editor):
    LabelClass = apps.get_model("labeling", "LabelClass")
    project_ids = LabelClass.objects.values_list("project_id", flat=True).distinct()
    for project_id in project_ids:
        classes = LabelClass.objects.filter(project_id=project_id).order_by("order", "id")
        for number, label_class in enumerate(classes, 1):
            LabelClass.objects.filter(pk=label_class.pk).update(number=number)


class Migration(migrations.Migration):
    dependencies = [("labeling", "0006_job_leases_and_save_receipts")]

    operations = [
        migrations.AddField(
            model_name="labelclass",
            name="number",
            field=models.PositiveIntegerField(default=0, help_text="1, 2, 3, ... per project, in the order classes were made."),
            preserve_default=False,
        ),
        migrations.RunPython(number_classes, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="labelclass",
            constraint=models.UniqueConstraint(fields=("project", "number"), name="unique_class_number_per_project"),
        ),
        migrations.AlterField(
            model_name="datasetversion",
            name="annotation_count",
            field=models.PositiveIntegerField(
                default=0, help_text="The exported segments (objects), counted the same way for every format."),
        ),
    ]
