-- wrk script: POST a 4 KB body (bench/upstream.py).
wrk.method = "POST"
wrk.body = string.rep("x", 4096)
wrk.headers["Content-Type"] = "application/octet-stream"
