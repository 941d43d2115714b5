"""The read model: where every series and pool stands, for the daemon, report, plan and metrics."""
