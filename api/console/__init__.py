"""The web console for the people who run cases, and the API's own /docs and /redoc assets."""
