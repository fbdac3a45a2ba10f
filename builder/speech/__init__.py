"""Speech: Swedish sentences, the pronunciation lexicon, voice engines, PCM and MP3,
and caption files. Used by the audio stage (`builder.render.audio`) and by checks.
"""
