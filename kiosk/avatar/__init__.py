"""The talking head: avatar packs, animation, drawing backends, on-screen UI and recording."""

import os

# pygame prints a banner on import, which would corrupt JSON written to stdout (kiosk demo --json).
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
