"""The pure core of the HAL side: framers (bytes in, frames out; no IO)."""
