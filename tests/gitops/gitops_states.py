"""Shared by the GitOps health tests: the state table (every kind) and a real Lua interpreter that runs
the Argo CD health check the way Argo CD does."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from blaxel_operator.health import argocd_health_lua

STATES_FILE = Path(__file__).parent / "blaxelagent_states.yaml"

ArgoHealth = Callable[[dict[str, Any]], dict[str, str]]

# Argo CD (gitops-engine, gopher-lua = Lua 5.1) opens only the base, table, package and a "safe" os
# library for health scripts unless `resource.customizations.useOpenLibs` is set; no string library.
# The sandbox below gives the script the same globals, and string methods ("x"):lower() are cut off.
_SANDBOX = """
local script = ...
local safe_os = { time = os.time, date = os.date, clock = os.clock }
getmetatable("").__index = {}
return function(obj)
  local env = {
    obj = obj, assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, rawequal = rawequal, rawget = rawget, rawset = rawset, select = select,
    setmetatable = setmetatable, getmetatable = getmetatable, tonumber = tonumber,
    tostring = tostring, type = type, unpack = unpack, xpcall = xpcall, table = table, os = safe_os,
  }
  local chunk, err = loadstring(script, "=argocd.lua")
  if chunk == nil then error(err) end
  setfenv(chunk, env)
  return chunk()
end
"""


def load_states() -> list[dict[str, Any]]:
    """The state table, each object completed with the defaults of the status contract."""
    with STATES_FILE.open(encoding="utf-8") as f:
        states: list[dict[str, Any]] = yaml.safe_load(f)
    for state in states:
        state["object"] = complete_object(state["object"])
    return states


def complete_object(partial: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(partial)
    obj.setdefault("apiVersion", "blaxel.ai/v1alpha1")
    obj.setdefault("kind", "BlaxelAgent")
    meta = obj.setdefault("metadata", {})
    meta.setdefault("name", "my-agent")
    meta.setdefault("namespace", "default")
    meta.setdefault("generation", 1)
    if obj["kind"] == "BlaxelAgent":
        obj.setdefault("spec", {"runtime": {"image": "example/agent:1"}})
    for cond in (obj.get("status") or {}).get("conditions") or []:
        cond.setdefault("lastTransitionTime", "2025-01-01T00:00:00Z")
        cond.setdefault("observedGeneration", meta["generation"])
    return obj


def state_id(state: dict[str, Any]) -> str:
    return str(state["name"])


def make_argocd_health() -> ArgoHealth:
    """Run argocd.lua on an object in a Lua 5.1 interpreter; returns {status, message}."""
    import lupa

    lua51 = getattr(lupa, "lua51", lupa)  # Argo CD's gopher-lua implements Lua 5.1
    lua = lua51.LuaRuntime(unpack_returned_tuples=True, register_eval=False)
    health_fn = lua.execute(_SANDBOX, argocd_health_lua())

    def run(obj: dict[str, Any]) -> dict[str, str]:
        result = health_fn(lua.table_from(obj, recursive=True))
        assert result is not None, "the health script returned nothing"
        assert lua51.lua_type(result) == "table", f"the health script returned {result!r}, not a table"
        out = {str(k): v for k, v in result.items()}
        assert set(out) <= {"status", "message"}, f"unexpected keys in hs: {sorted(out)}"
        return out

    return run
