"""Command collector: usage read from the output of a configured command."""
