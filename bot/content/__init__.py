"""Course, village and profile data loaded from knowledge/ and validated at start-up."""
from bot.content.loader import ContentError, load_knowledge
from bot.content.schema import Course, Knowledge, Question, Step

__all__ = ["ContentError", "Course", "Knowledge", "Question", "Step", "load_knowledge"]
