"""The web console under ``/console/``: sign in with an access key, teach and watch transforms."""

from findmatches.console.app import CONSOLE_PREFIX, ConsoleApp

__all__ = ["CONSOLE_PREFIX", "ConsoleApp"]
