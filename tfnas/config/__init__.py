"""Job configs: the frozen tree, the groups every job shares, flags."""
