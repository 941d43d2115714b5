"""The `cloudflare` collector: Workers, KV, D1, Durable Objects, Queues, R2 and Pages usage."""
