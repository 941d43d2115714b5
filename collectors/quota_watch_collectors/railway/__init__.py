"""Railway: usage and estimated usage this billing cycle, in dollars, against the plan credit."""
