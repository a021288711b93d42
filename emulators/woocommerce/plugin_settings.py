"""The companion plugin's settings group (`settings/photosync`), as WooCommerce's settings
API exposes it; it exists only while the plugin is installed."""

from __future__ import annotations

from emulators.woocommerce.handler import RestError, send_json
from emulators.woocommerce.state import StoreState

PLUGIN_OPTIONS = ("photosync_app_url", "photosync_store_id", "photosync_embed_secret")


def setting_json(option: str, value: str) -> dict:
    return {"id": option, "label": option, "type": "text", "default": "", "value": value,
            "group_id": "photosync"}


class PluginSettings(StoreState):
    plugin_options: dict[str, str] | None

    def _settings(self, req, method, segments, body) -> None:
        with self.lock:
            if segments[0] != "photosync" or self.plugin_options is None:
                raise RestError(404, "rest_setting_setting_group_invalid",
                                "Invalid setting group.")
            if len(segments) == 1 and method == "GET":
                return send_json(req, 200, [setting_json(k, v)
                                            for k, v in self.plugin_options.items()])
            if segments[1:] == ["batch"] and method == "POST":
                results = []
                for item in (body or {}).get("update", []):
                    if item.get("id") in self.plugin_options:
                        self.plugin_options[item["id"]] = str(item.get("value", ""))
                        results.append(setting_json(item["id"], self.plugin_options[item["id"]]))
                    else:
                        results.append({"id": item.get("id"), "error": {
                            "code": "rest_setting_setting_invalid", "message": "Invalid setting."}})
                return send_json(req, 200, {"update": results})
        raise RestError(404, "rest_no_route", "No route was found matching the URL and method.")
