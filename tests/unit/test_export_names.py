"""What exported files are called, and how imports find the image a name means (pure: no database)."""

from labeling.exports.names import export_file_names, portable_name, prefixed_name, without_id_prefix
from labeling.imports.base import ImageResolver, TargetImage


def test_images_keep_their_own_names_and_only_colliding_stems_get_their_id():
    names = export_file_names([(1, "street.jpg"), (2, "site/photo.jpg"), (3, "other/Photo.png"),
                               (4, "my photo (1).jpg"), (5, "..")])
    assert names == {1: "street.jpg", 2: "2_photo.jpg", 3: "3_Photo.png", 4: "my_photo_1_.jpg", 5: "image"}
    # Alone in an export, an image keeps its own name whatever else the project holds.
    assert export_file_names([(2, "site/photo.jpg")]) == {2: "photo.jpg"}


def test_names_do_not_grow_over_round_trips():
    name = "photo.jpg"
    for _ in range(3):  # exported with its images, uploaded into a new project, exported again
        (name,) = export_file_names([(7, name)]).values()
    assert name == "photo.jpg"
    assert without_id_prefix(prefixed_name(12, "photo.jpg")) == "photo.jpg" and without_id_prefix("photo.jpg") is None
    assert without_id_prefix("2024_report.png") == "report.png"  # a digit prefix is only a fallback (see below)
    assert portable_name("a/b\\c.png") == "b_c.png"


def test_an_export_of_another_project_finds_the_images_by_name():
    here = ImageResolver([TargetImage(40, "40_photo.jpg", "photo.jpg", 8, 8),
                          TargetImage(41, "41_my_photo.jpg", "my photo.jpg", 8, 8),
                          TargetImage(42, "42_2024_report.png", "2024_report.png", 8, 8),
                          TargetImage(43, "43_twin.jpg", "a/twin.jpg", 8, 8),
                          TargetImage(44, "44_twin.jpg", "b/twin.jpg", 8, 8)])
    assert here.resolve("photo.jpg")[0].id == 40
    assert here.resolve("12_photo.jpg")[0].id == 40  # another project's <id>_ prefix
    assert here.resolve("annotations/panoptic_default/12_photo.png")[0].id == 40  # a mask named by stem
    assert here.resolve("my_photo.jpg")[0].id == 41  # the portable name exports write
    assert here.resolve("2024_report.png")[0].id == 42  # an exact name wins over stripping a prefix
    assert here.resolve("43_twin.jpg")[0].id == 43  # this project's own export of a colliding name
    assert here.resolve("twin.jpg") == (None, "ambiguous")
    assert here.resolve("9_twin.jpg") == (None, "ambiguous")
    assert here.resolve("nothing.jpg") == (None, "missing")
