-- POST /v1/attestations for a labelled subject (the ton-assets scammer).
wrk.method = "POST"
wrk.path = "/v1/attestations"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"subject":"UQAjY9I3UKBqxUTM1sB4YSKpqI0kRagNKOBCMFJfkFwygHBI","verifier":"0:00000000000000000000000000000000000000000000000000000000000000aa","network":"mainnet"}'
