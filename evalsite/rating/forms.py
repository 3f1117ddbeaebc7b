"""The participant's forms: consent, the audio and headphone checks, and a rating's fields."""

from django import forms

from evalsite.experiments.attributes import OPTIONAL

from . import headphonecheck
from .audiocheck import BadAnswer, normalize_answer

OPTIONAL_BY_FIELD = {a.field: a for a in OPTIONAL}

SCALE = [(5, "Excellent"), (4, "Good"), (3, "Fair"), (2, "Poor"), (1, "Bad")]


class ConsentForm(forms.Form):
    consent = forms.BooleanField(
        required=True, error_messages={"required": "Please tick the box to agree before you start."}
    )


class AudioCheckForm(forms.Form):
    answer = forms.CharField(max_length=40, strip=True, error_messages={
        "required": "Type the digits you heard.",
        "max_length": "Type only the digits you heard (at most %(limit_value)d characters).",
    })

    def clean_answer(self):
        # A bad answer is an error on the form, next to the box; it does not count as a try.
        try:
            return normalize_answer(self.cleaned_data["answer"])
        except BadAnswer as exc:
            raise forms.ValidationError(str(exc)) from None


class HeadphoneCheckForm(forms.Form):
    """One answer per trial of the headphone check: which tone (1, 2 or 3) was the quietest."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for trial in range(1, headphonecheck.TRIALS + 1):
            self.fields[f"trial_{trial}"] = forms.TypedChoiceField(
                choices=[(1, "1"), (2, "2"), (3, "3")], coerce=int, error_messages={
                    "required": f"Pick the quietest tone of sound {trial}.",
                    "invalid_choice": f"Pick the first, second or third tone of sound {trial}.",
                },
            )  # fmt: skip

    def answers(self) -> list[int]:
        return [self.cleaned_data[f"trial_{trial}"] for trial in range(1, headphonecheck.TRIALS + 1)]


class Shared:
    """A field that no form instance changes, shared by all instead of deep-copied for each one.

    Django copies every field of a form per instance, widgets and choices included; for the
    rating POST that copying was the larger part of its time in Python.
    """

    def __deepcopy__(self, memo):
        return self


class SharedUUIDField(Shared, forms.UUIDField):
    pass


class SharedTypedChoiceField(Shared, forms.TypedChoiceField):
    pass


class ClipForm(forms.Form):
    clip = SharedUUIDField(error_messages={
        "required": "The form did not say which clip it rates (the clip field). Please reload the page.",
        "invalid": "The clip id in the form (the clip field) is not valid. Please reload the page.",
    })


class RatingForm(ClipForm):
    score = SharedTypedChoiceField(
        choices=SCALE, coerce=int, widget=forms.RadioSelect,
        error_messages={
            "required": "Please choose a score from 1 (Bad) to 5 (Excellent).",
            "invalid_choice": "The score must be a whole number from 1 (Bad) to 5 (Excellent), "
                              "got %(value)s.",
        },
    )


def _attribute_field(attribute):
    return SharedTypedChoiceField(
        choices=SCALE, coerce=int, widget=forms.RadioSelect, required=False, empty_value=None,
        error_messages={
            "invalid_choice": f"The {attribute.name} score must be a whole number from 1 (Bad) to 5 "
                              "(Excellent), got %(value)s.",
        },
    )


class AttributesForm(RatingForm):
    """The score plus the optional questions, each 1..5 or left out. Whether the experiment asks
    one (and so requires it) is a rating rule: `submission.rating_refusal`."""

    quality = _attribute_field(OPTIONAL_BY_FIELD["quality"])
    sync = _attribute_field(OPTIONAL_BY_FIELD["sync"])

    def attribute_values(self) -> dict:
        return {a.field: self.cleaned_data.get(a.field) for a in OPTIONAL}


def first_error(form) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return "The form is not valid."
