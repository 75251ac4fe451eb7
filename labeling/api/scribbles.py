"""Scribble proposals: a pixel classifier trained on the annotator's strokes proposes labels for a region."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.errors import ValidationFailed
from labeling.models import Image
from labeling.services.scribbles import MAX_POINTS, RADIUS_MAX, RADIUS_MIN, RESOLUTIONS, scribble_proposal


@extend_schema_field({"type": "array", "minItems": 1,
                      "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}})
class PointsField(serializers.Field):
    """[[x, y], ...]: checked here in one pass (a nested ListField of FloatFields costs ~20 us a point)."""

    default_error_messages = {"invalid": "a non-empty list of [x, y] pairs of finite numbers",
                              "max_length": f"at most {MAX_POINTS} points"}

    def to_internal_value(self, data):
        if not isinstance(data, list) or not data:
            self.fail("invalid")
        if len(data) > MAX_POINTS:
            self.fail("max_length")
        for point in data:
            if not (isinstance(point, list) and len(point) == 2
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
                            and abs(v) <= MAX_COORDINATE for v in point)):
                self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


# Far beyond any image (a 400-digit integer would overflow float64): NaN, infinities and such are refused here.
MAX_COORDINATE = 1e7


class ScribbleStrokeSerializer(serializers.Serializer):
    class_id = serializers.IntegerField(allow_null=True, help_text="A class of the image's project, or null: "
                                        "background (\"no label here\"), learnt as a label and proposed as 0.")
    radius = serializers.FloatField(help_text=f"Brush radius in image pixels, {RADIUS_MIN}..{RADIUS_MAX}.")
    points = PointsField(help_text="[[x, y], ...] in image pixel coordinates (pixel (i, j)'s centre is "
                                   "(j + 0.5, i + 0.5)); disks of `radius` along the segments are painted. "
                                   "Points may lie up to one radius outside the image.")


class ScribbleProposalRequestSerializer(serializers.Serializer):
    strokes = ScribbleStrokeSerializer(many=True, max_length=MAX_POINTS,
                                       help_text=f"Painted in order (a later stroke wins); at most {MAX_POINTS} "
                                                 "points over all strokes.")
    resolution = serializers.ChoiceField(
        choices=list(RESOLUTIONS), required=False, default="full",
        help_text="coarse: the region classified at <= 0.25 MP; full: at <= 1 MP (a larger region is classified "
                  "scaled down and the answer upsampled to its size, or to 4 MP when the region is larger).")
    region = serializers.ListField(
        child=serializers.IntegerField(), min_length=4, max_length=4, allow_null=True, required=False,
        default=None, help_text="[x, y, w, h] in image pixels, inside the image; null or absent: the whole image.")

    def to_internal_value(self, data):
        # The total is checked on the raw lists first, so a request cannot make each of many strokes' points be
        # validated one by one before the limit applies.
        strokes = data.get("strokes") if isinstance(data, dict) else None
        if isinstance(strokes, list):
            points = sum(len(s["points"]) for s in strokes if isinstance(s, dict) and isinstance(s.get("points"), list))
            if points > MAX_POINTS:
                raise ValidationFailed(f"at most {MAX_POINTS} points over all strokes", code="too_many_points",
                                       extra={"points": points, "max_points": MAX_POINTS})
        return super().to_internal_value(data)


class ScribbleSecondsSerializer(serializers.Serializer):
    features = serializers.FloatField(help_text="Reading the region and its features (near 0 when cached).")
    fit = serializers.FloatField(help_text="Rasterising the strokes and training the classifier.")
    predict = serializers.FloatField(help_text="Classifying the region and upsampling to its size.")
    total = serializers.FloatField(help_text="The whole proposal, PNG encoding included.")


class ScribbleProposalSerializer(serializers.Serializer):
    region = serializers.ListField(child=serializers.IntegerField(), help_text="[x, y, w, h]: the region answered.")
    scale = serializers.FloatField(help_text="The scale the classifier worked at (1: the region's own pixels).")
    resolution = serializers.ChoiceField(choices=list(RESOLUTIONS))
    classes = serializers.ListField(
        child=serializers.IntegerField(allow_null=True),
        help_text="The labels in order: label i is classes[i - 1] (class ids ascending, then null for "
                  "background when painted).")
    labels = serializers.CharField(
        help_text="Base64 of an 8-bit greyscale PNG of w x h: value i > 0 is classes[i - 1]; 0 is unlabelled "
                  "(background pixels are 0).")
    confidence = serializers.CharField(
        help_text="Base64 of an 8-bit greyscale PNG of w x h: the probability of the proposed label, 0..255.")
    cached = serializers.BooleanField(help_text="The region's features came from this server process's cache.")
    seconds = ScribbleSecondsSerializer()


class ImageScribbleProposalView(ScopedAPIView):
    """A proposal from scribbles: a random forest trained on the pixels under the strokes (multiscale colour,
    edge and texture features) labels every pixel of the region, with a confidence. Nothing is saved: the editor
    shows the proposal and the annotator accepts what is right.

    Request: `{"strokes": [{"class_id": 3 | null, "radius": 6, "points": [[x, y], ...]}, ...], "resolution":
    "coarse" | "full", "region": [x, y, w, h] | null}` in image pixels. A null class_id is background: learnt,
    proposed as unlabelled. At least two distinct labels must be painted (inside the region).

    Response: `{"region": [x, y, w, h], "scale": s, "resolution": ..., "classes": [3, 7, null], "labels": PNG,
    "confidence": PNG, "cached": bool, "seconds": {"features", "fit", "predict", "total"}}`: both PNGs are
    base64, 8-bit greyscale, w x h whatever the scale; in `labels` value i > 0 is classes[i - 1] (class ids
    ascending, then null when background was painted) and 0 is unlabelled (background pixels are 0);
    `confidence` is the proposed label's probability, 0..255.

    Ask "coarse" first (at most 0.25 MP classified: about half the time of "full" on a 1 MP image), then "full"
    (at most 1 MP). The features of the last few (image, region, scale) are cached per server process, so
    further strokes on the same view are faster (`cached`).

    Errors (400, code): `invalid` (fields, in extra.fields), `invalid_region` (outside the image or empty),
    `no_strokes`, `too_many_points` (over 50,000), `invalid_radius` (outside 0.5..256), `invalid_points`
    (more than one radius outside the image; extra.stroke is its index), `unknown_class` (not a class of this
    project; extra.class_ids), `need_two_labels` (fewer than two distinct labels, in all or inside the region),
    `strokes_too_large`. 409 `image_unreadable`.
    """

    model = Image
    scopes = {"POST": scopes.ASSIST_RUN}
    parser_classes = [JSONParser]  # strokes are nested lists: JSON only

    @extend_schema(request=ScribbleProposalRequestSerializer, responses={
        200: ScribbleProposalSerializer,
        400: OpenApiResponse(description="invalid input: the code says which (see above)"),
        409: OpenApiResponse(description="image_unreadable: the stored image could not be decoded"),
    })
    def post(self, request, pk):
        image = self.get_object()
        data = ScribbleProposalRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = scribble_proposal(image=image, user=request.user, **data.validated_data)
        return Response(ScribbleProposalSerializer(result).data)
