from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import PostViewSet, SocialAccountViewSet

router = DefaultRouter(trailing_slash=True)
router.register("social-accounts", SocialAccountViewSet, basename="social-account")
router.register("posts", PostViewSet, basename="post")

urlpatterns = [path("", include(router.urls))]
