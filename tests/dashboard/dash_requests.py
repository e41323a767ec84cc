"""Post callback requests to ``/_dash-update-component`` the way the browser does (or the way an attacker
might), built from the app's own ``/_dash-dependencies`` so tests name only component ids and props."""

from __future__ import annotations

from typing import Any

from dashboard.shell import router_location_id


def _prop_id(item: dict[str, Any]) -> str:
    return f"{item['id']}.{item['property']}"


def find_callback(client: Any, output_id: str) -> dict[str, Any]:
    """The dependency entry of the callback whose outputs include ``output_id`` (``"id.prop"``)."""
    for dependency in client.get("/_dash-dependencies").get_json():
        outputs = dependency["output"].strip(".").split("...")
        if output_id in outputs:
            return dependency
    raise LookupError(output_id)


def find_router(client: Any) -> dict[str, Any]:
    """The dependency entry of Dash's page router: the callback that reads the page container's URL."""
    pathname = {"id": router_location_id(), "property": "pathname"}
    for dependency in client.get("/_dash-dependencies").get_json():
        if pathname in dependency["inputs"]:
            return dependency
    raise LookupError("the page router")


def callback_body(
    dependency: dict[str, Any], values: dict[str, Any], *, triggered: list[str] | None = None
) -> dict[str, Any]:
    """The request body calling ``dependency`` with ``values`` by "id.prop" (others None)."""
    outputs = [
        {"id": part.split(".")[0], "property": part.split(".", 1)[1]}
        for part in dependency["output"].strip(".").split("...")
    ]
    return {
        "output": dependency["output"],
        "outputs": outputs if dependency["output"].startswith("..") else outputs[0],
        "inputs": [{**item, "value": values.get(_prop_id(item))} for item in dependency["inputs"]],
        "state": [{**item, "value": values.get(_prop_id(item))} for item in dependency["state"]],
        "changedPropIds": triggered if triggered is not None else [],
    }


def router_body(client: Any, pathname: object, search: object = "") -> dict[str, Any]:
    """The request body asking Dash's page router for the page at ``pathname`` and ``search``."""
    location = router_location_id()
    values = {f"{location}.pathname": pathname, f"{location}.search": search}
    return callback_body(find_router(client), values, triggered=[f"{location}.pathname"])


def post_callback(
    client: Any,
    output_id: str,
    values: dict[str, Any],
    *,
    triggered: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """Call the callback that outputs ``output_id`` with ``values`` by "id.prop" (others None)."""
    body = callback_body(find_callback(client, output_id), values, triggered=triggered)
    return client.post("/_dash-update-component", json=body, headers=headers or {})
