"""Pure compute runners (SAM, superpixels, own models): no Django models, no Celery."""
