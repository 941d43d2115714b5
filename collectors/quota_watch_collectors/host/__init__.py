"""The `host` collector: disk fill, monthly egress and provisioned block storage of this machine."""
