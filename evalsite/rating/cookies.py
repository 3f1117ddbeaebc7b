"""Partitioned cookies (CHIPS) for a study framed by another site.

A crowd platform's HIT page frames the study, so there the study's cookies are third-party
cookies, which current browsers block by default. A cookie marked `Partitioned` is kept apart per
top-level site and is allowed in that frame. Python before 3.14 cannot write the attribute, so a
Morsel that appends it replaces each cookie that a frame needs (SameSite=None and Secure).
"""

from http.cookies import Morsel


class PartitionedMorsel(Morsel):
    def OutputString(self, attrs=None):
        return f"{super().OutputString(attrs)}; Partitioned"


def partitioned(morsel: Morsel) -> Morsel:
    copy = PartitionedMorsel()
    copy.update(morsel)
    copy.set(morsel.key, morsel.value, morsel.coded_value)
    return copy


class PartitionedCookies:
    """Marks every cookie sent SameSite=None and Secure (the participant's, the CSRF token) as
    Partitioned; listed above CsrfViewMiddleware so that the CSRF cookie is marked too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        for name, morsel in list(response.cookies.items()):
            if str(morsel["samesite"]).lower() == "none" and morsel["secure"]:
                response.cookies[name] = partitioned(morsel)
        return response
