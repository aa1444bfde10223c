"""schemathesis hooks for scripts/schema_test.py: an NDJSON body as the list
of lines openapi.yaml describes, and an SSE body as its events' `data` parsed
as JSON (without `[DONE]` and comments), which schemathesis then checks one by
one against the stream's schema."""
import json

import schemathesis


@schemathesis.deserializer("application/x-ndjson")
def ndjson(ctx, response):
    return [json.loads(line) for line in response.content.decode().split("\n") if line.strip()]


@schemathesis.deserializer("text/event-stream")
def server_sent_events(ctx, response):
    events = []
    for block in response.content.decode().split("\n\n"):
        data = "\n".join(line[len("data: "):] for line in block.split("\n") if line.startswith("data: "))
        if data and data != "[DONE]":
            events.append(json.loads(data))
    return events
