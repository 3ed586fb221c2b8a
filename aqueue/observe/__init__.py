"""Seeing what the queues are doing: Prometheus metrics, OpenTelemetry tracing, alerts
and the live terminal view.

==================  =====================================================================
``metrics``         ``WorkerMetrics``: a worker's metrics, from its event stream and a
                    sampler task (``aqueue worker --metrics-port``)
``exposition``      the queue-level metrics of whatever process looks at the queues (the
                    dashboard): ``QueueExporter``, an ASGI ``metrics_app``
``sampling``        one reading of a queue: counts, totals, the oldest job's age
``tracing``         W3C trace context from producer to job, enqueue and run spans
                    (extra ``otel``)
``alerts``          the alert engine: rules evaluated every round, transitions posted once
                    however many engines run (``aqueue alerts``)
``alert_rules``     the rules (failure rate, oldest queued job, no live worker), from TOML
``webhook``         posting an alert as JSON with a Slack-compatible ``text``
``hooks``           what the clients check for (one check when tracing is off)
``watch``           ``aqueue info --watch``: a live view with per-queue rates
==================  =====================================================================

Nothing here is imported by the worker or the clients unless it is turned on.
"""
