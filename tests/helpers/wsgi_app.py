#!/usr/bin/env python3
"""A WSGI program on the standard library's wsgiref server, as a Flask or
Django app is hosted: listens on 127.0.0.1:$PORT and answers every request
with its WSGI environ's HTTP_* keys and REMOTE_ADDR as JSON.

A WSGI (or CGI) server names a header by its name upper-cased with '-'
as '_', so "X-Forwarded-For" and "X_Forwarded_For" are one
HTTP_X_FORWARDED_FOR: the tests check what such a program reads."""
import json
import os
from wsgiref.simple_server import WSGIRequestHandler, make_server


def app(environ, start_response):
    seen = {k: v for k, v in environ.items() if k.startswith("HTTP_") or k == "REMOTE_ADDR"}
    body = json.dumps(seen).encode()
    start_response("200 OK", [("content-type", "application/json"),
                              ("content-length", str(len(body)))])
    return [body]


class QuietHandler(WSGIRequestHandler):

    def log_message(self, *args):
        pass


def main():
    with make_server("127.0.0.1", int(os.environ["PORT"]), app,
                     handler_class=QuietHandler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
