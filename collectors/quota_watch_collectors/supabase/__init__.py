"""The `supabase` collector: Free-plan usage of a Supabase account through the Management API."""
