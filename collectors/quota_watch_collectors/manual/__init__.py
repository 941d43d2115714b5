"""Manual collector: usage declared in the config or set with `quota-watch set`."""
