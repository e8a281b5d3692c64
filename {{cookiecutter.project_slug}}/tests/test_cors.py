"""CORS_ALLOWED_ORIGINS: a browser's preflight from an allowed origin is answered with the CORS headers; from any
other origin, or with the setting empty, no CORS header is sent (so the browser refuses the cross-origin call)."""

from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings

ALLOWED = "https://shop.example"


async def preflight(settings: Settings, origin: str) -> tuple[int, dict[str, str]]:
    app = create_app(settings)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        response = await client.options(
            "/notes",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
    return response.status_code, {name.lower(): value for name, value in response.headers.items()}


async def test_preflight_from_an_allowed_origin_is_answered(settings: Settings) -> None:
    configured = settings.model_copy(update={"cors_allowed_origins": f"{ALLOWED}, http://localhost:3000"})

    status, headers = await preflight(configured, ALLOWED)

    assert status == 200
    assert headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in headers["access-control-allow-methods"]
    assert "content-type" in headers["access-control-allow-headers"].lower()


async def test_preflight_from_another_origin_gets_no_allow_origin(settings: Settings) -> None:
    configured = settings.model_copy(update={"cors_allowed_origins": ALLOWED})

    status, headers = await preflight(configured, "https://evil.example")

    assert status == 400
    assert "access-control-allow-origin" not in headers


async def test_no_origins_configured_means_no_cors_headers(settings: Settings) -> None:
    status, headers = await preflight(settings, ALLOWED)

    assert status == 405  # no CORS layer: OPTIONS reaches the router, which has no such route
    assert not any(name.startswith("access-control-") for name in headers)
