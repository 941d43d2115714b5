"""The `github` collector: Actions, Packages and Codespaces usage from the billing usage API."""
