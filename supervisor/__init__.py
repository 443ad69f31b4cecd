"""The enlil supervisor: runs a site of actor processes and keeps it running."""
