"""What a device spends beyond the model's invoke: a camera-size JPEG and a 1080p video, end to end.

The bench generates both from the split's own images (in-domain content): a 4056x3040 JPEG (the
Raspberry Pi HQ camera's size) and an H.264 1080p clip of a few of them. Each timing child then
measures `predict` on the JPEG (decode + resize + inference) and the frames per second of the
video path (decode + resize + inference for every frame). The video needs the `video` extra.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

CAMERA_SIZE = (3040, 4056)  # (height, width): the Raspberry Pi HQ camera's full resolution
CLIP_SIZE = (1080, 1920)  # (height, width): 1080p
CLIP_STILLS, CLIP_SECONDS, CLIP_FPS = 4, 1.0, 30  # 4 images, 1 s each, 30 frames/s: 120 frames


@dataclass(frozen=True)
class MediaSet:
    camera_jpeg: str  # a CAMERA_SIZE JPEG (quality 90) made from the split's first image
    clip: str | None  # a CLIP_SIZE H.264 MP4 of the first CLIP_STILLS images; None without PyAV


def make_media(image_paths: list[str], folder: Path) -> MediaSet:
    from PIL import Image

    from sportsedge.core.errors import MissingDependencyError
    from sportsedge.runtime.preprocess import load_pixels

    folder.mkdir(parents=True, exist_ok=True)
    h, w = CAMERA_SIZE
    jpeg = folder / "camera-4056x3040.jpg"
    Image.fromarray(load_pixels(image_paths[0])).resize((w, h), Image.Resampling.BICUBIC).save(jpeg, "JPEG", quality=90)
    try:
        from sportsedge.data.clips import write_clip

        stills = [(load_pixels(p), CLIP_SECONDS) for p in image_paths[:CLIP_STILLS]]
        clip = str(write_clip(folder / "clip-1080p.mp4", stills, CLIP_SIZE, fps=CLIP_FPS))
    except MissingDependencyError:
        clip = None
    return MediaSet(str(jpeg), clip)


def measure_media(clf, media: MediaSet, camera_runs: int) -> dict:
    """e2e_camera_ms_p50 (predict on the camera JPEG) and video_fps (every frame of the clip)."""
    from sportsedge.core.video_options import VideoOptions
    from sportsedge.runtime.video import classify_video

    times = []
    for _ in range(camera_runs):
        t = time.perf_counter()
        clf.predict(media.camera_jpeg, top_k=5)
        times.append(time.perf_counter() - t)
    fps = None
    if media.clip:
        t = time.perf_counter()
        result = classify_video(clf, media.clip, VideoOptions(smooth=0))
        fps = len(result.frames) / (time.perf_counter() - t)
    return {"e2e_camera_ms_p50": 1000 * statistics.median(times) if times else None, "video_fps": fps}
