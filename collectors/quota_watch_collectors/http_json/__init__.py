"""The `http_json` collector: usage from any JSON endpoint via JMESPath, limits from config."""
