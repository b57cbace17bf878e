"""Errors a user can fix, reported as one line and exit code 2 by the CLI."""


class UserError(Exception):
    """A mistake in the user's input: printed as one line, never as a traceback."""


class ScenarioError(UserError):
    """A bad value in a scenario file.

    Parameters
    ----------
    key : str
        Dotted key path inside the scenario, e.g. ``link.code.k``.
    message : str
        What is wrong and what is allowed.
    file : str | None
        The scenario file; filled in by the loader when it is known.
    """

    def __init__(self, key, message, *, file=None):
        self.key = key
        self.message = message
        self.file = file
        super().__init__(str(self))

    def __str__(self):
        where = f"{self.file}: " if self.file else ""
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"
