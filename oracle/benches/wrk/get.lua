-- GET /get/{address} of the ceilings server: random addresses among its LABELS keys (as risk.lua).
local n = tonumber(os.getenv("LABELS") or "1000000")
math.randomseed(42)
request = function()
  return wrk.format("GET", string.format("/get/0:%064x", math.random(0, n - 1)))
end
