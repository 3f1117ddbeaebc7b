"""The site's URL map: the admin, the researcher's pages and the participant's."""

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

handler404 = "evalsite.rating.views.page_not_found"
handler500 = "evalsite.rating.views.server_error"

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("researcher/", include("evalsite.experiments.urls")),
    path("", include("evalsite.rating.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
