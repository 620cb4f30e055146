"""The commune's admin API under /api/v1 (one router per resource)."""
from fastapi import APIRouter

from admin_api.routers import broadcasts, events, reports, residents, stats, targets, unanswered, villages

router = APIRouter(prefix="/api/v1")
for module in (reports, broadcasts, events, residents, villages, targets, unanswered, stats):
    router.include_router(module.router)
