"""Store adapters. Nothing here imports `photosync`: the app depends on us, not the reverse."""
