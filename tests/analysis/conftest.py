from tests.ads.support import ads_integration, campaign  # noqa: F401 - a Meta campaign for accepted budgets
from tests.analysis.support import ai_integration, dataset  # noqa: F401 - the data set and a Claude integration
from tests.connectors.support import public_dns, sleeps  # noqa: F401
