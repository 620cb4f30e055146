"""The commune's admin API under /api/v1 (one router per resource)."""
from fastapi import APIRouter

from admin_api.routers import (ambassadors, broadcasts, events, recordings, reports, residents, stats, targets,
                               unanswered, villages)
from admin_api.schemas import ErrorOut

# Every 4xx is the same JSON shape (admin_api/errors.py); documented once for all routes.
ERRORS = {status: {"model": ErrorOut, "description": description} for status, description in (
    (400, "The body could not be parsed"), (401, "Missing or wrong token"), (403, "Outside the token's role or village"), (404, "Not found"),
    (409, "Conflicts with the current state"), (413, "The body is too large: error.field is \"body\""),
    (415, "The body is not of a type this route takes"), (422, "Invalid input: error.field names the field"),
    (429, "Too many wrong tokens from this address: wait Retry-After seconds"),
    (503, "The database cannot take the request now (down, read-only or full): try again later"))}

router = APIRouter(prefix="/api/v1", responses=ERRORS)
for module in (reports, broadcasts, events, residents, ambassadors, villages, targets, unanswered, stats,
               recordings):
    router.include_router(module.router)
