"""The `aws` collector: AWS Free Tier offers and the account's free-plan credits."""
