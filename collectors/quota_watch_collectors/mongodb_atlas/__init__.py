"""MongoDB Atlas: M0 data size and connections per replica set, through the Admin API v2."""
