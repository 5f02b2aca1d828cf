from tests.analysis.support import ai_integration, dataset  # noqa: F401 - the data set and a Claude integration
from tests.connectors.support import public_dns, sleeps  # noqa: F401
