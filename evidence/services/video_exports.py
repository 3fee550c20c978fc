"""A video in an export bundle (issue #15), as a photo is: its derivatives (poster, contact
sheet, web-playable preview, every keyframe) and what the pipeline read, the metadata read
from the file travelling only with the original (and never for a protected source below the
owner's reveal), as for photos (`evidence.services.exports`)."""

from __future__ import annotations

from evidence.imaging.metadata import capture_time_text
from evidence.models import Video


def video_export_row(video: Video, *, with_metadata: bool, add_file) -> dict:
    """The `video` object of an evidence row. `add_file(name, stored, content_type=,
    thumbnail_of=)` copies a stored file into the bundle and returns its name there."""
    pk = video.evidence_id
    row = {
        "status": video.status,
        "failure_reason": video.failure_reason,
        "duration": video.duration,
        "width": video.width,
        "height": video.height,
        "frame_rate": video.frame_rate,
        "video_codec": video.video_codec,
        "audio_codec": video.audio_codec,
        "poster": None,
        "contact_sheet": None,
        "preview": None,
        "keyframes": [],
    }
    if video.poster:
        row["poster"] = add_file(
            f"thumbnails/{pk}.jpg", video.poster, content_type="image/jpeg", thumbnail_of=pk
        )
    if video.contact_sheet:
        row["contact_sheet"] = add_file(
            f"keyframes/{pk}/contact-sheet.jpg", video.contact_sheet, content_type="image/jpeg"
        )
    if video.preview:
        row["preview"] = add_file(f"previews/{pk}.mp4", video.preview, content_type="video/mp4")
    for keyframe in video.keyframes.all():
        row["keyframes"].append(
            {
                "index": keyframe.index,
                "time": keyframe.time,
                "phash": keyframe.phash,
                "dhash": keyframe.dhash,
                "file": add_file(
                    f"keyframes/{pk}/{keyframe.index:02d}.jpg",
                    keyframe.image,
                    content_type="image/jpeg",
                ),
            }
        )
    if with_metadata:
        row.update(
            {
                "container": video.container,
                "rotation": video.rotation,
                "bit_rate": video.bit_rate,
                "taken_at": capture_time_text(video.taken_at, video.taken_at_offset),
                "taken_at_offset": video.taken_at_offset or None,
                "taken_at_source": video.taken_at_source or None,
                "camera_make": video.camera_make,
                "camera_model": video.camera_model,
                "software": video.software,
                "encoder": video.encoder,
                "gps_latitude": video.gps_latitude,
                "gps_longitude": video.gps_longitude,
                "gps_altitude": video.gps_altitude,
                "tags": video.tags,
                "flags": [{"code": f.code, "message": f.message} for f in video.flags.all()],
            }
        )
    else:
        # A flag's message may quote what the metadata said (a place, a date).
        row["flags"] = [
            {"code": f.code, "message": f.get_code_display()} for f in video.flags.all()
        ]
    return row
