"""Model management: the manifest of known models, fetching them, and finding them on disk."""
