"""The rows of the video pipeline (issue #15): what a worker learns about a video, its
keyframes, flags and near-duplicates. Imported by `evidence.models` (the app's models module);
the relations name their models by label, so nothing here imports it back."""

from django.db import models
from django.db.models import Q

from evidence.imaging import flags


class Video(models.Model):
    """What the video pipeline learns about a video, and what it derives from it. Claimed,
    leased and recovered as a photo is (`evidence.services.videos`)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    evidence = models.OneToOneField(
        "evidence.Evidence", on_delete=models.CASCADE, primary_key=True, related_name="video"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    # Normalised metadata (`evidence.imaging.video.video_metadata`).
    duration = models.FloatField(null=True, blank=True)
    container = models.CharField(max_length=100, blank=True)
    video_codec = models.CharField(max_length=50, blank=True)
    audio_codec = models.CharField(max_length=50, blank=True)
    # As shown: after the rotation the file asks for.
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    rotation = models.SmallIntegerField(default=0)
    frame_rate = models.FloatField(null=True, blank=True)
    bit_rate = models.BigIntegerField(null=True, blank=True)
    # As for photos: UTC, and the offset the device recorded ("" when it recorded none).
    taken_at = models.DateTimeField(null=True, blank=True)
    taken_at_offset = models.CharField(max_length=6, blank=True)
    taken_at_source = models.CharField(max_length=32, blank=True)
    camera_make = models.CharField(max_length=100, blank=True)
    camera_model = models.CharField(max_length=100, blank=True)
    software = models.CharField(max_length=200, blank=True)
    encoder = models.CharField(max_length=200, blank=True)
    gps_latitude = models.FloatField(null=True, blank=True)
    gps_longitude = models.FloatField(null=True, blank=True)
    gps_altitude = models.FloatField(null=True, blank=True)
    # Every container and stream tag, as read (shown to editors only, like a photo's EXIF:
    # tags can carry a place or a name).
    tags = models.JSONField(default=dict, blank=True)

    # Derivatives: upright, metadata stripped.
    poster = models.FileField(max_length=300, blank=True)
    contact_sheet = models.FileField(max_length=300, blank=True)
    preview = models.FileField(max_length=300, blank=True)
    # Why there is no web-playable preview, when making it failed (the video is still ready).
    preview_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["evidence"]
        indexes = [models.Index(fields=["status", "status_changed_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "processing", "ready", "failed"]),
                name="video_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(failure_reason=""),
                name="video_failure_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"video {self.evidence_id} ({self.status})"


class VideoKeyframe(models.Model):
    """A frame of a video kept at a scene change (or to have one every few seconds), with
    its time, a thumbnail, a larger image to download, and its perceptual hashes."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="keyframes")
    index = models.PositiveSmallIntegerField()
    time = models.FloatField()
    thumbnail = models.FileField(max_length=300)
    image = models.FileField(max_length=300)
    phash = models.BigIntegerField()
    dhash = models.BigIntegerField()
    # How much it differs from the keyframe before it (0–1).
    change = models.FloatField(default=0)

    class Meta:
        ordering = ["video", "index"]
        constraints = [
            models.UniqueConstraint(fields=["video", "index"], name="keyframe_unique_index"),
        ]

    def __str__(self) -> str:
        return f"keyframe {self.index} of video {self.video_id} at {self.time:.3f}s"


class VideoFlag(models.Model):
    """A consistency warning about a video, as `PhotoFlag` is about a photo."""

    class Code(models.TextChoices):
        DATE_MISMATCH = flags.Code.DATE_MISMATCH, "Recorded date differs from the stated date"
        PLACE_MISMATCH = flags.Code.PLACE_MISMATCH, "Recorded location far from the stated place"
        EDITING_SOFTWARE = flags.Code.EDITING_SOFTWARE, "Edited or re-encoded with software"
        NO_CAMERA_METADATA = flags.Code.NO_CAMERA_METADATA, "No device metadata"
        DUPLICATE_OTHER_SOURCE = (
            flags.Code.DUPLICATE_OTHER_SOURCE,
            "Same video from another source",
        )

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="flags")
    code = models.CharField(max_length=32, choices=Code.choices)
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["video", "code"]
        constraints = [
            models.UniqueConstraint(fields=["video", "code"], name="videoflag_unique_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class KeyframeMatch(models.Model):
    """A keyframe of a video and a photo of the same case within the near-duplicate distance."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    keyframe = models.ForeignKey(VideoKeyframe, on_delete=models.CASCADE, related_name="+")
    photo = models.ForeignKey("evidence.Photo", on_delete=models.CASCADE, related_name="+")
    distance = models.PositiveSmallIntegerField()
    cross_source = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["distance", "id"]
        constraints = [
            models.UniqueConstraint(fields=["keyframe", "photo"], name="keyframematch_unique"),
        ]

    def __str__(self) -> str:
        return f"keyframe {self.keyframe_id} ~ photo {self.photo_id} ({self.distance})"


class VideoMatch(models.Model):
    """Two videos of one case that share near-duplicate keyframes, recorded once per pair with
    the closest pair of keyframes."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    video_a = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="+")
    video_b = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="+")
    keyframe_a = models.ForeignKey(VideoKeyframe, on_delete=models.CASCADE, related_name="+")
    keyframe_b = models.ForeignKey(VideoKeyframe, on_delete=models.CASCADE, related_name="+")
    distance = models.PositiveSmallIntegerField()
    # How many keyframes of the shorter video have a near-duplicate in the other.
    shared_keyframes = models.PositiveSmallIntegerField(default=1)
    cross_source = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["distance", "id"]
        constraints = [
            models.UniqueConstraint(fields=["video_a", "video_b"], name="videomatch_unique_pair"),
            models.CheckConstraint(
                condition=Q(video_a__lt=models.F("video_b")), name="videomatch_ordered_pair"
            ),
        ]

    def __str__(self) -> str:
        return f"video {self.video_a_id} ~ video {self.video_b_id} ({self.distance})"
