"""Inbound callback IVR and outbound message menu over FastAGI (``bnet ivr run``).

Dialplan contract (what the Asterisk templates must do; see example-conf in ../shared):

Inbound callback number::

    exten => _X.,1,Answer()
     same => n,AGI(agi://<fastagi_host>:<fastagi_port>/callback,${EXTEN})
     same => n,Queue(centralist,t,,,300)     ; always, whatever AGI did (fail-safe)

  The AGI sets ``BNET_ROUTE=queue``, ``QUEUE_PRIO`` (10 running action, 5 recently closed,
  1 unknown; Queue() reads it), ``BNET_ACTION_ID``, ``BNET_INBOUND_ID`` and
  ``CALLERID(name)`` (``BN <action 6 chars> <masked number>``) for the centralist's phone.

Outbound menu (Originate with ChannelId = CallAttempt.id, Variable MSG_FILE=<sound>)::

    exten => s,1,Answer()
     same => n,UserEvent(BnetMessage,Status: started)
     same => n,AGI(agi://<fastagi_host>:<fastagi_port>/menu,${BNET_ATTEMPT})
     same => n,UserEvent(BnetMenu,Choice: ${MENU_CHOICE})
     same => n,GotoIf($["${MENU_CHOICE}" = "2"]?centralist)
     same => n,Hangup()
     same => n(centralist),Queue(centralist,t,,,300)

  No ``Playback()`` before the AGI: the AGI plays the message itself so that "2" works during
  it (transcript 15c).  ``MENU_CHOICE`` is 2, 9, timeout or none.  The message is
  ``MSG_FILE`` when the channel has one (validated), else the action's rendered alert.
  asterisk/extensions.conf.tmpl (dialer) follows this contract.

Queue events: the dialer passes QueueCallerJoin/Abandon, AgentConnect/Complete and Hangup to
:func:`engine.ivr.inbound_calls.record_queue_event`.
"""
