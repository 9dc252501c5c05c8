from django.urls import path

from projections import api, views

urlpatterns = [
    path("api/projections/", api.ProjectionsApi.as_view(), name="api-projections"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("projections/", views.projection_status, name="projection-status"),
    path("projections/<str:name>/retry", views.projection_retry, name="projection-retry"),
]
