"""Learning from approved labels (issue 17): trained models (origin, training record, the pixel classifier's
skops format), each image's uncertainty, and the project settings of the loop (retrain_every, prelabel_new,
next_task_order)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0007_labelclass_number'),
    ]

    operations = [
        migrations.AddField(
            model_name='image',
            name='uncertainty',
            field=models.FloatField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name='project',
            name='next_task_order',
            field=models.CharField(choices=[('default', 'Oldest first'), ('uncertainty', 'Most uncertain first')], default='default', help_text='Within each Next-task tier: oldest first, or the most uncertain images first.', max_length=12),
        ),
        migrations.AddField(
            model_name='project',
            name='prelabel_new',
            field=models.BooleanField(default=False, help_text='After each training, pre-label the images nobody started with the best model.'),
        ),
        migrations.AddField(
            model_name='project',
            name='retrain_every',
            field=models.PositiveIntegerField(default=0, help_text='Train a model again after this many newly approved images (0 = off).'),
        ),
        migrations.AddField(
            model_name='trainedmodel',
            name='origin',
            field=models.CharField(choices=[('uploaded', 'Uploaded'), ('trained', 'Trained on approved labels')], default='uploaded', max_length=8),
        ),
        migrations.AddField(
            model_name='trainedmodel',
            name='training',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name='trainedmodel',
            name='format',
            field=models.CharField(choices=[('torchscript', 'TorchScript'), ('onnx', 'ONNX'), ('pixel_forest', 'Pixel classifier (skops)')], max_length=12),
        ),
    ]
