"""Small helpers shared by the skhtm estimators."""


class restore_on_error:
    """Context manager: on an exception, put the estimator's attributes back.

    The attributes are restored by reference, so the code inside must not
    mutate fitted arrays in place (the estimators learn on copies and commit).
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def __enter__(self):
        self.saved = dict(vars(self.estimator))

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            vars(self.estimator).clear()
            vars(self.estimator).update(self.saved)
        return False
