"""The user errors: what a user typed or supplied is wrong, and the message says how to fix
it. The command line prints such an error in one line; anything else is a bug and keeps its
traceback."""


class GenbenchError(Exception):
    """A user error (bad setting, missing data, unusable output folder, ...)."""


class ConfigError(GenbenchError, ValueError):
    """A user-supplied setting is invalid; the message says which and what is allowed."""


class UnknownName(GenbenchError, KeyError):
    """No model, dataset or suite of that name; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError's own str() quotes the message
        return str(self.args[0]) if self.args else ""
