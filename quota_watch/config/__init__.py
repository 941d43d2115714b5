"""Configuration: settings models, loading (find, interpolate, secrets, validate), example."""
