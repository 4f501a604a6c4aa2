-- POST /v1/attestations/batch with BATCH (default 256) distinct subjects per request.
local n = tonumber(os.getenv("BATCH") or "256")
local items = {}
for i = 1, n do
  items[i] = string.format('{"subject":"0:%064x","verifier":"0:00000000000000000000000000000000000000000000000000000000000000aa","network":"mainnet"}', i)
end
wrk.method = "POST"
wrk.path = "/v1/attestations/batch"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"items":[' .. table.concat(items, ",") .. ']}'
