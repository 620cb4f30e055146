"""The commune's admin API under /api/v1 (one router per resource)."""
from fastapi import APIRouter

from admin_api.routers import stats, unanswered

router = APIRouter(prefix="/api/v1")
router.include_router(stats.router)
router.include_router(unanswered.router)
