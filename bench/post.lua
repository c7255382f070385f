-- wrk script: POST a small JSON body.
wrk.method = "POST"
wrk.body = '{"hello":"world","n":42}'
wrk.headers["Content-Type"] = "application/json"
