"""The live web view of a running site (``[web] listen``, ``python -m supervisor web``)."""
