"""The `vercel` collector: Hobby usage from the FOCUS billing-charges feed of Vercel's API."""
