"""Is this photo good enough for a presenter? Each problem is refused with what is wrong and what photo
to take instead, before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.avatar.photo.landmarks import Face, count_faces, face_meshes
from kiosk.avatar.photo.regions import eye_openness, eyes, head_pose

MIN_FACE_PX = 100  # face height (forehead to chin); below it the lips are a few pixels tall (256+ looks sharp)
MAX_YAW_DEG = 20.0
MAX_PITCH_DEG = 20.0
MAX_ROLL_DEG = 30.0  # a tilt is straightened (the shoulders then lean), within reason
MIN_EYE_OPENNESS = 0.12
MIN_SHARPNESS = 12.0  # variance of the Laplacian over the face, at a 256 px face height
MIN_BRIGHTNESS = 45.0  # mean of the face's luminance, 0-255
TAKE_INSTEAD = "take a head-and-shoulders photo facing the camera, in even light, eyes open"


class PhotoProblem(ValueError):
    def __init__(self, path: Path | str, problem: str, advice: str = TAKE_INSTEAD) -> None:
        self.path, self.problem, self.advice = Path(path), problem, advice
        super().__init__(f"{path}: {problem}; {advice}")


@dataclass(frozen=True)
class CheckedPhoto:
    rgb: np.ndarray
    face: Face
    faces_found: int


def read_photo(path: Path) -> np.ndarray:
    """The photo as H x W x 3 uint8 RGB, EXIF rotation applied; PhotoProblem when it is not an image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            upright = ImageOps.exif_transpose(opened)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise PhotoProblem(path, "no such file", "check the path") from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise PhotoProblem(path, f"not an image this tool can read ({error})",
                           "give a JPEG or PNG photo") from None


def check_photo(path: Path, rgb: np.ndarray, face_number: int | None = None) -> CheckedPhoto:
    """The face to use, or PhotoProblem naming the first thing wrong with the photo."""
    boxes = count_faces(rgb)
    meshes = face_meshes(rgb)
    found = max(len(boxes), len(meshes))
    if not meshes and boxes:
        raise PhotoProblem(path, f"{len(boxes)} face(s) found, but the eyes, nose and mouth could not be traced "
                                 "(the face is small in the picture, turned away or covered)",
                           "crop the photo to one person's head and shoulders, facing the camera")
    if not meshes:
        raise PhotoProblem(path, "no face found", TAKE_INSTEAD)
    if face_number is None and found > 1:
        raise PhotoProblem(path, f"{found} faces found",
                           "use a photo of one person, or pick one with --face N (1 is the largest)")
    n = face_number or 1
    if not 1 <= n <= len(meshes):
        raise PhotoProblem(path, f"--face {n}, but {len(meshes)} face(s) found", f"pick 1 to {len(meshes)}")
    face = meshes[n - 1]
    height = float(face.points[:, 1].max() - face.points[:, 1].min())
    if height < MIN_FACE_PX:
        raise PhotoProblem(path, f"the face is {height:.0f} px tall, smaller than {MIN_FACE_PX} px",
                           "use a larger or closer photo (the face at least a third of the picture's height)")
    yaw, pitch, roll = head_pose(face.points, face.depth)
    if abs(yaw) > MAX_YAW_DEG:
        raise PhotoProblem(path, f"the face is turned {abs(yaw):.0f}° to the side (at most {MAX_YAW_DEG:.0f}°)")
    if abs(pitch) > MAX_PITCH_DEG:
        raise PhotoProblem(path, f"the face is tipped {abs(pitch):.0f}° up or down (at most {MAX_PITCH_DEG:.0f}°)")
    if abs(roll) > MAX_ROLL_DEG:
        raise PhotoProblem(path, f"the head is tilted {abs(roll):.0f}° (at most {MAX_ROLL_DEG:.0f}°)")
    openness = min(eye_openness(e) for e in eyes(face.points))
    if openness < MIN_EYE_OPENNESS:
        raise PhotoProblem(path, "the eyes are closed or nearly closed", "use a photo with both eyes open")
    grey, scale = _face_crop(rgb, face)
    brightness = float(grey.mean())
    if brightness < MIN_BRIGHTNESS:
        raise PhotoProblem(path, f"the face is too dark (mean brightness {brightness:.0f} of 255, at least "
                                 f"{MIN_BRIGHTNESS:.0f})", "take the photo in brighter, even light")
    sharpness = _sharpness(grey)
    if sharpness < MIN_SHARPNESS:
        raise PhotoProblem(path, f"the face is blurred (sharpness {sharpness:.1f}, at least {MIN_SHARPNESS:.0f})",
                           "use a sharp photo: hold the camera still, focus on the eyes")
    return CheckedPhoto(rgb, face, found)


def _face_crop(rgb: np.ndarray, face: Face) -> tuple[np.ndarray, float]:
    """The face's bounding box in grey, scaled to 256 px tall (so sharpness compares across photo sizes)."""
    import cv2

    x, y, w, h = face.box
    crop = rgb[max(0, y):y + h, max(0, x):x + w]
    scale = 256 / max(1, crop.shape[0])
    grey = cv2.cvtColor(cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    return grey.astype(np.float32), scale


def _sharpness(grey: np.ndarray) -> float:
    import cv2

    return float(cv2.Laplacian(grey, cv2.CV_32F).var())
