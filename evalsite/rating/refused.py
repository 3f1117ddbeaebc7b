"""Turning a participant's request down: `Refused`, and the refusals of a study that is not open.

Views turn a `Refused` into a page with its status and message; every refusal happens before
anything is written.
"""

from evalsite.experiments.models import Experiment

CLOSED = "This study is closed: it does not accept participants or ratings now."
NOT_OPEN_YET = "This study is not open yet. Please come back when the researcher has opened it."


class Refused(Exception):
    """A request that is turned down with a message for the participant and an HTTP status."""

    def __init__(self, message: str, status: int = 400, title: str = "That did not work",
                 retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.title = title
        self.retry_after = retry_after  # seconds after which the same request may be accepted


def refuse_unless_open(experiment: Experiment) -> None:
    refuse_unless_status(experiment.status)


def refuse_unless_status(status: str) -> None:
    if status == Experiment.Status.DRAFT:
        raise Refused(NOT_OPEN_YET, 403, title="Not open yet")
    if status != Experiment.Status.OPEN:
        raise Refused(CLOSED, 403, title="This study is closed")
