"""Hiding the X pointer over a kiosk window whose toolkit cannot (jetson-utils' display://)."""

from __future__ import annotations


class PointerHider:
    """Hides the X pointer on the whole screen while it lives (XFixes, as `unclutter` does), for backends whose
    window has no cursor API of its own (jetson-utils' display://). X restores it when the connection closes."""

    def __init__(self) -> None:
        import ctypes
        import ctypes.util

        names = {name: ctypes.util.find_library(name) for name in ("X11", "Xfixes")}
        if not all(names.values()):
            raise OSError("libX11 or libXfixes not found")
        self._x11, self._xfixes = ctypes.CDLL(names["X11"]), ctypes.CDLL(names["Xfixes"])
        self._x11.XOpenDisplay.restype = ctypes.c_void_p
        self._x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self._x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self._x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self._x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self._x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self._xfixes.XFixesHideCursor.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self._display = self._x11.XOpenDisplay(None)
        if not self._display:
            raise OSError("cannot open the X display")
        self._xfixes.XFixesHideCursor(self._display, self._x11.XDefaultRootWindow(self._display))
        self._x11.XSync(self._display, 0)

    def close(self) -> None:
        """Shows the pointer again."""
        if self._display:
            self._x11.XCloseDisplay(self._display)
            self._display = None
