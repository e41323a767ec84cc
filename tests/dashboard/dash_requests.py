"""Post callback requests to ``/_dash-update-component`` the way the browser does (or the way an attacker
might), built from the app's own ``/_dash-dependencies`` so tests name only component ids and props."""

from __future__ import annotations

from typing import Any


def _prop_id(item: dict[str, Any]) -> str:
    return f"{item['id']}.{item['property']}"


def find_callback(client: Any, output_id: str) -> dict[str, Any]:
    """The dependency entry of the callback whose outputs include ``output_id`` (``"id.prop"``)."""
    for dependency in client.get("/_dash-dependencies").get_json():
        outputs = dependency["output"].strip(".").split("...")
        if output_id in outputs:
            return dependency
    raise LookupError(output_id)


def post_callback(
    client: Any,
    output_id: str,
    values: dict[str, Any],
    *,
    triggered: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """Call the callback that outputs ``output_id`` with ``values`` by "id.prop" (others None)."""
    dependency = find_callback(client, output_id)
    outputs = [
        {"id": part.split(".")[0], "property": part.split(".", 1)[1]}
        for part in dependency["output"].strip(".").split("...")
    ]
    payload = {
        "output": dependency["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": [{**item, "value": values.get(_prop_id(item))} for item in dependency["inputs"]],
        "state": [{**item, "value": values.get(_prop_id(item))} for item in dependency["state"]],
        "changedPropIds": triggered if triggered is not None else [],
    }
    return client.post("/_dash-update-component", json=payload, headers=headers or {})
