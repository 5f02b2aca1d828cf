from tests.analysis.support import dataset  # noqa: F401 - the hand-built data set
from tests.connectors.support import public_dns, sleeps  # noqa: F401
