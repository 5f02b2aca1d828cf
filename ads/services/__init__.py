"""The only code that writes ads records. Import from here: `from ads.services import campaign_budget_set`.

Imports (structure and metrics) are called by the one import path (syncjobs/resources.py); changes an
operator, an API client or an accepted suggestion asks for go through `campaign_budget_set` /
`campaign_status_set` (changes.py), which ask the platform first and write only what it accepted
(`campaign_change_confirm` records one the platform took before a crash kept it from being recorded).
"""

from .changes import CampaignChangeRefused, campaign_budget_set, campaign_change_confirm, campaign_status_set
from .marketing import marketing_campaign_create, upsert_marketing_campaigns
from .metrics import upsert_campaign_metrics
from .structure import upsert_ad_accounts, upsert_ad_sets, upsert_campaigns

__all__ = [
    "CampaignChangeRefused",
    "campaign_budget_set",
    "campaign_change_confirm",
    "campaign_status_set",
    "marketing_campaign_create",
    "upsert_ad_accounts",
    "upsert_ad_sets",
    "upsert_campaign_metrics",
    "upsert_campaigns",
    "upsert_marketing_campaigns",
]
