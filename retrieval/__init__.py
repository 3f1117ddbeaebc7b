"""Crossmodal sound retrieval (Yasuda et al.): a PyTorch library plus a thin Django app.

Everything except `retrieval.models`, `retrieval.admin`, `retrieval.apps` and
`retrieval.management` imports without Django.
"""
