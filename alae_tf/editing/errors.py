"""The one error the editing library raises for a user's mistake."""


class EditingError(ValueError):
    """A user-facing editing problem (a bad direction file, shape, layer range or option).

    The message names what is wrong and, where there is one, how to fix it. A `ValueError`, so
    callers that catch those keep working.
    """
