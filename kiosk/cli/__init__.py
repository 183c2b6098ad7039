"""The `kiosk` command: one sub-command per module; `main.py` builds the parser."""
