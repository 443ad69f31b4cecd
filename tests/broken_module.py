"""A module that fails to import (for the swap rollback test)."""

raise ImportError("this module is broken on purpose")
