"""The kiosk's local API (docs/api.md) and its metrics: served by `kiosk run` on the kiosk's own loop."""
