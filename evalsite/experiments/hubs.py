"""How far each method's chosen sounds collapsed onto a few hubs in a built experiment."""

import numpy as np

from retrieval.hubness import hub_share

from .models import Experiment, Method, Stimulus


def hub_shares(experiment: Experiment) -> dict[str, dict]:
    """Per method with retrieved sounds: how many test videos have one, how many distinct
    sounds they got, the hub share (share of those videos given the method's most chosen
    sound), and `collapsed`: one sound serves most of at least 4 videos, so the study would
    compare that sound against itself."""
    out = {}
    for method in experiment.methods.exclude(kind=Method.Kind.ORIGINAL).order_by("order", "pk"):
        sounds = list(method.stimuli.filter(role=Stimulus.Role.TEST, sound__isnull=False)
                      .values_list("sound_id", flat=True))  # fmt: skip
        if sounds:
            share = hub_share(np.unique(sounds, return_inverse=True)[1])
            out[method.label] = {"videos": len(sounds), "distinct": len(set(sounds)), "hub_share": share,
                                 "hubness": method.applied_hubness,
                                 "collapsed": len(sounds) >= 4 and share > 0.5}  # fmt: skip
    return out
