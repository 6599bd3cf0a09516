"""Exit codes and the bad-input error shared by every `phantomwatch` command."""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit code 2."""
