"""The API of this project: fluxlit serves it under /api, so GET /users is /api/users."""

from fastapi import FastAPI

app = FastAPI(title="hello")

USERS = [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Linus"}]


@app.get("/users")
def list_users() -> list[dict]:
    """Every user, for the Streamlit page."""
    return USERS
