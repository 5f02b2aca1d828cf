"""The publishing job. The Post row is the job's record; a message is a nudge (the beat job re-sends due ones).

`publish_post` retries transient provider errors and a platform still processing the post (a container, a video
upload) with backoff, resuming each time from the post's checkpoint, so a retry after a timeout never posts twice.
"""

from __future__ import annotations

from celery import shared_task

from connectors.errors import ProviderError

from . import services

RETRY_SECONDS = (10, 30, 60, 120, 300, 600)


@shared_task(bind=True, ignore_result=True, max_retries=len(RETRY_SECONDS))
def publish_post(self, post_id: int) -> str:
    try:
        return services.post_publish(post_id=post_id).status
    except (ProviderError, services.PublishPending) as exc:
        if self.request.retries >= len(RETRY_SECONDS):
            services.publish_gave_up(post_id=post_id, message=str(exc))
            return "failed"
        raise self.retry(countdown=RETRY_SECONDS[self.request.retries], exc=exc) from None


@shared_task(ignore_result=True)
def publish_due_posts() -> int:
    """Every minute: queue the scheduled posts whose time has come."""
    due = services.posts_due()
    for post_id in due:
        publish_post.delay(post_id)
    return len(due)
