"""The `axiom` collector: data loaded this billing period against the org's license."""
