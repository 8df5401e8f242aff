from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from minivoice_site.two_factor import TwoFactorLoginForm

admin.site.site_header = "MiniVoice support"
admin.site.site_title = "MiniVoice support"
admin.site.index_title = "Calls, recordings and what MiniVoice told us"
# The lists and the call's timeline need the width; the breadcrumbs lead back.
admin.site.enable_nav_sidebar = False
# The password, then a TOTP code for staff who have a device (minivoice_site/two_factor.py).
admin.site.login_form = TwoFactorLoginForm

urlpatterns = [
    path("minivoice/", include("calls.urls")),
    path("admin/", admin.site.urls),
    # The OpenAPI document and its rendering (who may read them: settings/api_schema.py, README).
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
