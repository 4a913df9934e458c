"""The five seed stories of the handbook (`shared/domain.md`), played by `station demo`."""

from cli.stories import dispute, doorknock, enterprise, homeservice, mediation
from cli.stories.base import Story

STORIES: tuple[Story, ...] = (
    enterprise.STORY,
    mediation.STORY,
    doorknock.STORY,
    dispute.STORY,
    homeservice.STORY,
)

__all__ = ["STORIES", "Story"]
