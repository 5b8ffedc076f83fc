"""``cvdsr bench export|erase``: how close cvdsr gets to the Training API's rate limit (a benchmark, not a test).

One run starts a fresh Azurite, the Custom Vision simulator (seeded, rate-limited to ``--tps`` calls/s
per key, ``--latency-ms`` per call) and the development host as a child process, submits one request
through ``POST /api/requests`` and waits until ``GET /api/requests/{id}`` reports it finished. It
prints, as figures measured in the same run:

* the wall time, and the API bound: the successful Training API calls the run needed (from the
  simulator's request log: ``/customvision/`` paths, not 429 or 5xx) divided by ``--tps``; their ratio;
* the 429 answers seen, and the image/model file downloads (storage URIs: outside the rate limit);
* the peak memory of the host process (``VmHWM`` of the host and any descendants, in MiB);
* when files were copied, the copy floor: the same downloads copied once more by a bare loop (one
  process like the host, ``COPY_FLOOR_CONCURRENCY`` at a time, no orchestration, no API calls, no
  digests) from the same simulator into another fresh Azurite, right after the run. It is a reference
  measured in the same run, not a proof: a copier spread over more processes could beat it. Here
  Azurite, the simulator and the host share two cores, and storing a file costs more than the API's
  rate limit leaves per file, so the bound the run is held to is ``max(calls / tps, copy floor)``; the
  ratio to ``calls / tps`` alone is printed as well;
* unless ``--no-baseline``: the same request on a smaller account (``--small-seed``, default a fifth of
  the images), to show whether peak memory grows with the image count (ratio of the two peaks), and a
  naive sequential script with the official SDK (``azure-cognitiveservices-vision-customvision``) on a
  fresh copy of the same account, in its own process, writing to local disk: its wall time, its ratio
  to the API bound and cvdsr's ratio to it.

Everything it starts is stopped at the end, also on Ctrl-C, SIGTERM or failure. Keys are random per run
and never printed. ``python -m local.bench export`` runs it without the ``cvdsr`` command.

The modules, in the order a run uses them:

* :mod:`.cli`: the flags, the command, signals; dispatches the two worker processes below;
* :mod:`.options`: what a run is asked to do (kinds, data kinds, seeds) and the errors it reports;
* :mod:`.run`: the benchmark itself: the runs, the request and its wait, the figures;
* :mod:`.processes`: starting and stopping Azurite, the simulator and the host for one run;
* :mod:`.meters`: CPU time and peak memory of a process tree (psutil);
* :mod:`.bound`: the calls that count against the rate limit, and the ratios;
* :mod:`.floor`: the copy floor and its worker process;
* :mod:`.baseline`: the sequential official-SDK script and its worker process;
* :mod:`.report`: the figures as text or JSON.
"""
