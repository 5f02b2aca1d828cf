from django.urls import path

from .api import TaxValidateView

urlpatterns = [
    path("tax/validate/", TaxValidateView.as_view(), name="tax-validate"),
]
