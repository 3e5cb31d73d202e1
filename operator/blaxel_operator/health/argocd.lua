-- Argo CD health check for every kind of blaxel-operator (blaxel.ai/BlaxelAgent, BlaxelFunction, ...).
--
-- Install it in argocd-cm under one key per kind, `resource.customizations.health.blaxel.ai_<Kind>`
-- (see examples/gitops/argocd-cm.yaml). Argo CD sets the global `obj` to the live resource and
-- expects a table {status = ..., message = ...} back. Only the Lua base library is used: Argo CD
-- runs health scripts without the string library unless useOpenLibs is set.
--
--   deletionTimestamp set                   -> Progressing  "Pending deletion"
--   annotation blaxel.ai/paused == "true"   -> Suspended
--   no status / observedGeneration stale    -> Progressing
--   Stalled=True                            -> Degraded     (DeployFailed, InvalidSpec, AlreadyExists,
--                                                            Unauthorized)
--   Ready=True                              -> Healthy
--   anything else                           -> Progressing  (Deploying, SecretNotFound, ReferenceNotReady,
--                                                            InUse, transient errors)
--
-- The message is the Ready condition's message whenever there is one.

local hs = {}

-- What each kind's messages call one (a test keeps this table equal to the operator's registry).
local nouns = {
  BlaxelAgent = "agent",
  BlaxelFunction = "function",
  BlaxelIntegrationConnection = "integration connection",
  BlaxelJob = "job",
  BlaxelModel = "model",
  BlaxelPolicy = "policy",
  BlaxelVolume = "volume",
}
local noun = nouns[obj.kind] or "resource"

local function find_condition(conditions, condition_type)
  if type(conditions) ~= "table" then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if type(condition) == "table" and condition.type == condition_type then
      return condition
    end
  end
  return nil
end

local function message_of(condition, fallback)
  if condition ~= nil and type(condition.message) == "string" and condition.message ~= "" then
    return condition.message
  end
  return fallback
end

local metadata = obj.metadata or {}
local annotations = metadata.annotations or {}
local status = obj.status
local conditions = nil
if type(status) == "table" then
  conditions = status.conditions
end
local ready = find_condition(conditions, "Ready")

if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Pending deletion"
  return hs
end

if annotations["blaxel.ai/paused"] == "true" then
  hs.status = "Suspended"
  local synced = find_condition(conditions, "Synced")
  hs.message = message_of(ready, message_of(synced, "Reconciliation is paused"))
  return hs
end

if type(status) ~= "table" then
  hs.status = "Progressing"
  hs.message = "Waiting for blaxel-operator to reconcile the " .. noun
  return hs
end

if metadata.generation ~= nil and status.observedGeneration ~= metadata.generation then
  -- Not synced at this generation yet. A Ready condition written for this generation (e.g. a
  -- SecretNotFound being retried) says why; an older one would be stale news.
  hs.status = "Progressing"
  if ready ~= nil and ready.observedGeneration == metadata.generation then
    hs.message = message_of(ready, "Waiting for blaxel-operator to sync generation " .. tostring(metadata.generation))
  else
    hs.message = "Waiting for blaxel-operator to observe generation " .. tostring(metadata.generation)
  end
  return hs
end

local stalled = find_condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = message_of(ready, message_of(stalled, "Reconciliation is stalled"))
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message_of(ready, "The " .. noun .. " is ready")
  return hs
end

hs.status = "Progressing"
hs.message = message_of(ready, "Waiting for the " .. noun .. " to become ready")
return hs
