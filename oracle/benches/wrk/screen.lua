-- POST /v1/screen of 1,000 random addresses among the LABELS labelled ones.
local n = tonumber(os.getenv("LABELS") or "1000000")
math.randomseed(42)
request = function()
  local addresses = {}
  for i = 1, 1000 do
    addresses[i] = string.format('"0:%064x"', math.random(0, n - 1))
  end
  return wrk.format("POST", "/v1/screen", { ["Content-Type"] = "application/json" },
    '{"addresses":[' .. table.concat(addresses, ",") .. ']}')
end
