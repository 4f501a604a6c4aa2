-- POST /sign of the ceilings server (examples/ceilings.rs): the same body as attest.lua.
wrk.method = "POST"
wrk.path = "/sign"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"subject":"UQAjY9I3UKBqxUTM1sB4YSKpqI0kRagNKOBCMFJfkFwygHBI","verifier":"0:00000000000000000000000000000000000000000000000000000000000000aa","network":"mainnet"}'
