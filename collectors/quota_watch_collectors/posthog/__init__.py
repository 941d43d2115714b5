"""The `posthog` collector: events, recordings and flag requests this billing period."""
