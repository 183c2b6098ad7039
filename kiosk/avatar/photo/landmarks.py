"""The face and the person in a photo, through MediaPipe's legacy solutions (their TFLite models ship
inside the mediapipe 0.10.21 wheel, so nothing is downloaded): 478 face-mesh points with irises, a
full-range face detector to count faces, and selfie segmentation for the person's outline."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

INSTALL_HINT = ("the photo avatar needs MediaPipe 0.10.21 and OpenCV: run tools/dev setup, or "
                "pip install --no-deps mediapipe==0.10.21 && pip install opencv-python-headless matplotlib "
                "absl-py attrs 'protobuf>=4.25.3,<5'")


class PhotoToolMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Face:
    points: np.ndarray
    """478 x 2 float32 image px (MediaPipe face-mesh order; 468-477 are the irises)"""
    depth: np.ndarray
    """478 z values in the same px scale (smaller is nearer the camera)"""
    box: tuple[int, int, int, int]
    """x, y, w, h of the points' bounding box"""


def _mediapipe():  # noqa: ANN202 - the module
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
    try:
        import mediapipe as mp
    except ImportError as error:
        raise PhotoToolMissing(f"{INSTALL_HINT} ({error})") from None
    return mp


def count_faces(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) of every face the full-range detector finds, largest first."""
    mp = _mediapipe()
    h, w = rgb.shape[:2]
    with contextlib.redirect_stderr(io.StringIO()), \
            mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.6) as finder:
        found = finder.process(rgb).detections or []
    boxes = []
    for detection in found:
        r = detection.location_data.relative_bounding_box
        boxes.append((round(r.xmin * w), round(r.ymin * h), round(r.width * w), round(r.height * h)))
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def face_meshes(rgb: np.ndarray, max_faces: int = 8) -> list[Face]:
    """The face mesh of every face found, largest first."""
    mp = _mediapipe()
    h, w = rgb.shape[:2]
    with contextlib.redirect_stderr(io.StringIO()), mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, refine_landmarks=True, max_num_faces=max_faces,
            min_detection_confidence=0.5) as mesh:
        result = mesh.process(rgb)
    faces = []
    for landmarks in result.multi_face_landmarks or []:
        xyz = np.array([(p.x * w, p.y * h, p.z * w) for p in landmarks.landmark], dtype=np.float32)
        x0, y0 = xyz[:, :2].min(axis=0)
        x1, y1 = xyz[:, :2].max(axis=0)
        faces.append(Face(xyz[:, :2].copy(), xyz[:, 2].copy(), (int(x0), int(y0), int(x1 - x0), int(y1 - y0))))
    return sorted(faces, key=lambda f: -f.box[2] * f.box[3])


def person_mask(rgb: np.ndarray) -> np.ndarray:
    """Float32 0..1, the photo's size: how surely each pixel belongs to the person (soft at hair)."""
    mp = _mediapipe()
    with contextlib.redirect_stderr(io.StringIO()), \
            mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        mask = segmenter.process(rgb).segmentation_mask
    return np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
