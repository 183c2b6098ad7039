"""Named parts of MediaPipe's 478-point face mesh (indices from its face_mesh_connections), ordered
along each contour. "Right" and "left" are the person's own: their right eye is on the viewer's left."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LIPS_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
MOUTH_CORNERS = (61, 291)

RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (362, 398, 384, 385, 386, 387, 388, 466, 263)
LEFT_EYE_LOWER = (362, 382, 381, 380, 374, 373, 390, 249, 263)
RIGHT_IRIS = (468, 469, 470, 471, 472)  # centre first
LEFT_IRIS = (473, 474, 475, 476, 477)
RIGHT_BROW_UPPER = (70, 63, 105, 66, 107)  # outer end first
RIGHT_BROW_LOWER = (46, 53, 52, 65, 55)
LEFT_BROW_UPPER = (300, 293, 334, 296, 336)
LEFT_BROW_LOWER = (276, 283, 282, 295, 285)

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
CHIN = 152
FOREHEAD = 10
NOSE_TIP = 1
NOSE_BASE = 2


@dataclass(frozen=True)
class Eye:
    upper: np.ndarray  # the lid contours, outer corner -> inner corner or the reverse, both the same way
    lower: np.ndarray
    iris: np.ndarray  # centre (x, y)
    iris_r: float
    brow_upper: np.ndarray
    brow_lower: np.ndarray

    @property
    def opening(self) -> np.ndarray:
        """The visible eye's outline: the upper lid one way, the lower lid back."""
        return np.concatenate([self.upper, self.lower[::-1][1:-1]])


def eyes(points: np.ndarray) -> tuple[Eye, Eye]:
    """(viewer's left, viewer's right)."""
    def eye(upper: tuple[int, ...], lower: tuple[int, ...], iris: tuple[int, ...], bu: tuple[int, ...],
            bl: tuple[int, ...]) -> Eye:
        ring = points[list(iris[1:])]
        centre = points[iris[0]]
        return Eye(points[list(upper)], points[list(lower)], centre,
                   float(np.linalg.norm(ring - centre, axis=1).mean()), points[list(bu)], points[list(bl)])

    right = eye(RIGHT_EYE_UPPER, RIGHT_EYE_LOWER, RIGHT_IRIS, RIGHT_BROW_UPPER, RIGHT_BROW_LOWER)
    left = eye(LEFT_EYE_UPPER, LEFT_EYE_LOWER, LEFT_IRIS, LEFT_BROW_UPPER, LEFT_BROW_LOWER)
    return (right, left) if right.iris[0] <= left.iris[0] else (left, right)


def eye_openness(eye: Eye) -> float:
    """Lid gap over eye width (about 0.25-0.35 open, below 0.1 closed)."""
    width = float(np.linalg.norm(eye.upper[0] - eye.upper[-1])) or 1.0
    gap = float(np.max(np.linalg.norm(eye.upper[2:-2] - eye.lower[2:-2], axis=1)))
    return gap / width


def head_pose(points: np.ndarray, depth: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees, from the mesh: roll from the eye line, yaw from the nose tip's place
    between the cheeks and the depth difference of the face's sides, pitch from the nose against eyes and
    mouth. Rough (a few degrees), enough to refuse a turned face."""
    left_eye, right_eye = points[33], points[263]
    roll = float(np.degrees(np.arctan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0])))
    a, b = points[234], points[454]  # the face's outline at the cheekbones
    width = float(np.linalg.norm(b - a)) or 1.0
    yaw = float(np.degrees(np.arctan2(depth[234] - depth[454], width)))
    eyes_y = (left_eye[1] + right_eye[1]) / 2
    mouth_y = (points[13][1] + points[14][1]) / 2
    share = (points[NOSE_TIP][1] - eyes_y) / max(1.0, mouth_y - eyes_y)  # ~0.6 facing the camera
    pitch = float((share - 0.6) * 90)
    return yaw, pitch, roll
