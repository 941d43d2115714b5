"""The long-running process: lifecycle, alerting glue, HTTP server and auth, heartbeat, logs."""
