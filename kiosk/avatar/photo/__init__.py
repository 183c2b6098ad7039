"""A talking presenter from one photo: MediaPipe's face mesh and selfie segmentation find the face and
the person, and the photo's own pixels are warped into an ordinary avatar pack (docs/avatar-format.md)."""
