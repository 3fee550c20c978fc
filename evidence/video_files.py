"""What both doors serve of a video (issue #15): its files by name, and the name a keyframe
downloads under."""

from evidence.imaging.video import timecode

# which → (Video field, content type)
VIDEO_FILES = {
    "poster": ("poster", "image/jpeg"),
    "contact-sheet": ("contact_sheet", "image/jpeg"),
    "preview": ("preview", "video/mp4"),
}


def keyframe_filename(evidence, keyframe) -> str:
    """ "keyframe-12-0m12.480s.jpg": the evidence, the frame's time; never the uploader's name
    (which may name the source)."""
    code = timecode(keyframe.time).replace(":", "m", 1).replace(":", "m")
    return f"evidence-{evidence.pk}-keyframe-{keyframe.index:02d}-{code}s.jpg"
