"""Market data in motion: the offline replay servers, the vendor collectors and the landing writer.

``stream_processor`` (landing -> bronze -> silver as Structured Streaming) lives
here too, owned by the pipeline.
"""
