from tests.ads.support import ads_integration, campaign  # noqa: F401 - fixtures for every ads test
from tests.connectors.support import public_dns, sleeps  # noqa: F401
