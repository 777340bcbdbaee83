"""Production gunicorn settings; `gunicorn wsgi:app` reads this file from the working directory.
Worker class and count were chosen by measurement (BENCHMARKS.md); override them per host with
WEB_CONCURRENCY and GUNICORN_WORKER_CLASS."""
import os

# gunicorn's stock sync worker behind nginx, which buffers requests and responses for it
# (BENCHMARKS.md, "Worker classes", compares it with gthread and gevent).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
workers = int(os.environ.get("WEB_CONCURRENCY", "8"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# gunicorn's own pure-Python HTTP parser, named so that installing its optional C parser
# (gunicorn_h1c) does not switch parsers unnoticed: that one is still marked beta, and it
# gained 2-7% at 350 connections here, the baseline as much (BENCHMARKS.md, machine I).
http_parser = "python"
# Bursts arrive faster than workers accept: let the kernel queue them rather than refuse.
backlog = 2048
timeout = 30
graceful_timeout = 20
# The control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), which two servers
# on one host would fight over; nothing here uses it.
control_socket_disable = True
