-- wrk script: asynchronous POST /execute of `true` on localhost.
wrk.method = "POST"
wrk.body = '{"targets": ["localhost"], "cmd": "true"}'
wrk.headers["Content-Type"] = "application/json"
