"""Not implemented yet."""
