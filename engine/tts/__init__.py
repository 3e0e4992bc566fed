"""Speech: Dutch text to 8 kHz telephone audio that Asterisk plays.

Public interface (see ``asterisk/MEDIA.md`` for delivery to Asterisk):

* ``engine.tts.render.render(text, settings, backend=None) -> RenderedAudio`` (path, sha256,
  duration_s, cached); ``render_parts([...])`` joins intro / message / menu; ``audio_hash``.
* ``engine.tts.words_nl.speak_phone_number(number)``: "0800-0011" -> "nul acht nul nul, ...".
* ``engine.tts.normalize.normalize_dutch(text)``; ``engine.tts.textcheck.check_text``.
* ``engine.tts.prompts.load_prompt(name)``; ``engine.tts.prompt_audio`` renders prompts.
* ``engine.tts.delivery``: ``playback_name``, ``install_for_asterisk``, ``media_url``.
* ``engine.tts.http.router``: ``GET|HEAD /media/<sha256>.wav``.
* Errors (``engine.tts.errors``) are ``EngineError`` subclasses with stable codes.
"""
