"""/favicon.ico, which every browser asks for on every page: a small icon made by the site."""

import io

from django.urls import reverse
from PIL import Image


def test_it_serves_a_small_icon(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert "max-age=" in response["Cache-Control"]
    icon = Image.open(io.BytesIO(response.content))
    assert icon.format == "ICO" and icon.size == (32, 32)
    assert len(response.content) < 5000
    assert reverse("rating:favicon") == "/favicon.ico"
    assert client.head("/favicon.ico").status_code == 200
