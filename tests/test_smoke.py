"""The service starts and answers its health check."""

import httpx


async def test_health_reports_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["status"] == "ok"
