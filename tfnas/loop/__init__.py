"""`tfnas loop`: search, measure on the device, refresh its table, until on target."""
