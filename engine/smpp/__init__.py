"""SMS over SMPP 3.4: one file per step, pure code first.

* ``encoding``  GSM-7 / UCS-2 choice, segmentation, UDH (pure; ``segment``, ``count_segments``)
* ``protocol``  framing, status classes, delivery receipts, STOP words (pure)
* ``codec``     PDU encode/decode on smpplib (pure)
* ``ratelimit`` token bucket per bind (pure)
* ``jobs``      what goes to the binds and what comes back
* ``bind``      one transceiver bind per thread: window, TPS, timers, reconnect
* ``pool``      several SMSCs: prefix/priority routing, failover, hot reload
* ``dlr``       message id -> SMS/segment correlation, early receipts
* ``claims``    exactly-once claiming, crash recovery, mobile-only rule
* ``records``   events -> SmsMessage, ActionTarget, dossier
* ``mo``        incoming SMS: STOP and tips
* ``service``   the long-running sender (``bnet smpp run``)
* ``tuning``    SmscConfig rows over the config file (``bnet smsc set``)
"""
