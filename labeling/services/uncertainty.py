"""Each image's uncertainty under the latest trained pixel classifier that pre-labelled it: a score
(`Image.uncertainty`, what the image list and Next task sort by) and a map stored as a small 8-bit greyscale PNG.

Definition (README "Learning from approved labels"): per pixel, u = 1 - the top class probability (0 = sure,
1 - 1/K = a coin toss between K classes); the score is the mean of u over the image; the PNG stores round(255 * u)
at the model's working resolution (the image reduced to its `max_side`). A later run of any trained model
replaces both (`labeling.services.trained_models.image_uncertainty_save`); deleting the image removes the map
(`labeling.services.stored_files.image_stored_files`).
"""

from django.core.files.storage import default_storage

from labeling.models import Image

FOLDER = "uncertainty"


def uncertainty_map_path(image_id: int) -> str:
    return f"{FOLDER}/{image_id}.png"


def image_uncertainty_map(*, image: Image) -> str | None:
    """The storage name of the image's uncertainty map, or None when no trained model scored it."""
    name = uncertainty_map_path(image.pk)
    if image.uncertainty is None or not default_storage.exists(name):
        return None
    return name
