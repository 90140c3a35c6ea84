"""REST API v1 routes (namespace ``api``), mounted at ``/api/v1/`` by ``opsdesk.urls``."""

from rest_framework.routers import SimpleRouter

from directory.api import SystemViewSet, VendorViewSet
from tickets.api.views import TicketViewSet

app_name = "api"

router = SimpleRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("systems", SystemViewSet, basename="system")
router.register("vendors", VendorViewSet, basename="vendor")

urlpatterns = router.urls
