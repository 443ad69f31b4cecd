"""Hardware abstraction actors: the only actors that own hardware links (serial first)."""
