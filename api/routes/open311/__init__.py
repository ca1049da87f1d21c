"""Open311 GeoReport v2: how city apps and 311 clients (FixMyStreet among them) talk to
gridcase. `formats` speaks the wire formats, `mapping` translates between Open311's words and
the case, `routes` serves the endpoints."""

from api.routes.open311.routes import router

__all__ = ["router"]
