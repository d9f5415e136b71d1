"""The Google Wallet channel: ``queue`` marks classes, objects and messages pending at
fan-out, ``sync`` sends them at Google's pace (``GoogleWorker``), ``client`` wires the
REST client to the limiter shared by all workers (``limiter``: a database window, or
Redis). The rows themselves, and what use cases read of them, are ``app.google_wallet``.
"""
