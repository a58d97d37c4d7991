"""A Python FluxLit app: an API route and a page that calls it (fluxlit new --profile minimal)."""

from fluxlit import Depends, FluxLit
from fluxlit.client import ApiClient

app = FluxLit(title="FluxLit Demo")


@app.api.get("/users")
def users():
    return [{"name": "Ada"}]


def current_user_id() -> int:
    """A page dependency: FluxLit calls it and passes the result to the page."""
    return 1


@app.page("/")
def home(st, client: ApiClient, user_id: int = Depends(current_user_id)):
    st.title("Dashboard")
    st.caption(f"user {user_id}")
    st.write(client.get("/users").json())
