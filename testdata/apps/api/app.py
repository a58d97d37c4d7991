# The FastAPI app fluxlit's integration tests put behind /api: fixed data to assert on, an echo of
# what the proxy delivered (path, root_path, headers, query), and endpoints that exercise
# streaming request bodies, slow answers, server-sent events and large streamed responses.
# Run: python -m uvicorn --app-dir testdata/apps/api app:app --host 127.0.0.1 --port N
import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

app = FastAPI()

# /big streams in 64 KiB chunks: small enough to keep memory flat, large enough to be quick.
BIG_CHUNK = 64 * 1024
# Caps keep a typo in a test (mb=100000, n=1e9) from tying the machine up.
BIG_MAX_MB = 1024
SSE_MAX_EVENTS = 10000
SLOW_MAX_SECONDS = 600.0


@app.get("/users")
async def users():
    return [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Linus"}]


@app.get("/echo")
@app.get("/echo/{rest:path}")
async def echo(request: Request, rest: str = ""):
    # Header names are lower-cased by ASGI; repeated headers are joined with ", " here, and the
    # raw list is kept too so a test can check duplicates.
    headers = {}
    for name, value in request.headers.items():
        headers[name] = headers[name] + ", " + value if name in headers else value
    return {
        "method": request.method,
        "path": request.url.path,
        "raw_path": request.scope.get("raw_path", b"").decode("latin-1"),
        "root_path": request.scope.get("root_path", ""),
        "query": request.url.query,
        "query_params": dict(request.query_params),
        "headers": headers,
        "raw_headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw],
        "client": request.client.host if request.client else None,
    }


@app.post("/count")
async def count(request: Request):
    # Reads the body as a stream so a multi-GiB upload needs no memory.
    n = 0
    async for chunk in request.stream():
        n += len(chunk)
    return {"bytes": n}


@app.get("/slow")
async def slow(s: float = 2.0):
    s = max(0.0, min(s, SLOW_MAX_SECONDS))
    await asyncio.sleep(s)
    return {"slept": s}


@app.get("/sse")
async def sse(n: int = 5, gap: float = 0.2):
    n = max(0, min(n, SSE_MAX_EVENTS))
    gap = max(0.0, min(gap, SLOW_MAX_SECONDS))

    async def events():
        for i in range(n):
            if i:
                await asyncio.sleep(gap)
            yield f"id: {i}\ndata: event {i}\n\n".encode()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@app.get("/big")
async def big(mb: int = 1):
    if mb < 0 or mb > BIG_MAX_MB:
        return JSONResponse({"error": f"mb must be 0..{BIG_MAX_MB}"}, status_code=400)
    total = mb * 1024 * 1024
    chunk = b"x" * BIG_CHUNK

    async def body():
        left = total
        while left > 0:
            part = chunk if left >= BIG_CHUNK else chunk[:left]
            left -= len(part)
            yield part

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={"Content-Length": str(total)},
    )


@app.get("/stall")
async def stall(sent: int = 1000, hold: float = 600.0):
    # Promises 2*sent bytes, sends sent of them, then says nothing for hold seconds: an upstream
    # that stopped in the middle of its body.
    sent = max(1, min(sent, BIG_MAX_MB * 1024 * 1024))

    async def body():
        yield b"y" * sent
        await asyncio.sleep(max(0.0, min(hold, SLOW_MAX_SECONDS)))

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={"Content-Length": str(2 * sent)},
    )


# /inflight counts the /count requests whose handler is running: what a test reads to see
# whether slow uploads hold the application while their bodies trickle in.
INFLIGHT = {"count": 0}


@app.post("/count-inflight")
async def count_inflight(request: Request):
    INFLIGHT["count"] += 1
    try:
        n = 0
        async for chunk in request.stream():
            n += len(chunk)
        return {"bytes": n}
    finally:
        INFLIGHT["count"] -= 1


@app.get("/inflight")
async def inflight():
    return INFLIGHT
