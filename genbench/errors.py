"""The one type of user error: what a user typed or supplied is wrong, and the message says how
to fix it. The command line prints such an error in one line; anything else is a bug and keeps
its traceback."""


class GenbenchError(Exception):
    """A user error (bad setting, missing data, unusable output folder, ...)."""
