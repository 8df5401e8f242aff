from __future__ import annotations

from django.urls import path

from bench.reference import reference_insert
from minivoice_site.urls import urlpatterns as site_urlpatterns

urlpatterns = [path("bench/reference/", reference_insert), *site_urlpatterns]
