"""Sound files with PyAV (FFmpeg's codecs, shipped in its wheel): samples in, a voice note or
an AAC file out; and any recording a person made read back as samples.

Two formats cover every channel: Telegram plays a voice note only as OGG/Opus; Zalo's sendVoice
takes AAC, and every browser plays AAC in an MP4 (.m4a) file, Safari included.
"""
from __future__ import annotations

import io
from fractions import Fraction
from dataclasses import dataclass

import numpy as np

# PyAV (`av`) is imported where sound is made or read, not here: loading FFmpeg's libraries
# adds 16 MB to a serving process, which needs them only when a sound is not in the cache yet or
# a recording comes in. Importing this module for its formats costs nothing.

MONO = "mono"
CHUNK_SECONDS = 1   # sound handed to the resampler at a time when encoding (memory, see _encode)


@dataclass(frozen=True)
class Format:
    name: str           # "opus" | "aac": what a channel asks for
    extension: str
    mime: str
    container: str      # PyAV's (FFmpeg's) muxer
    codec: str
    sample_rate: int
    bit_rate: int
    frame_size: int     # samples per frame the encoder takes (known only once it is open: so here)
    options: tuple[tuple[str, str], ...] = ()   # the encoder's own settings


# Speech needs little, and a weak 3G signal matters. Opus as a phone's voice note makes it: 16 kHz
# input, the encoder's speech mode, 24 kbit/s; a middle complexity (5 of 10) encodes a step in
# half the time for the same sound. FFmpeg's AAC encoder with its fast coder is four times quicker
# than its default at the same size; it gives about 47 kbit/s when asked for 32.
# bench/bench_audio.py measures both.
OPUS = Format("opus", "ogg", "audio/ogg", "ogg", "libopus", 16000, 24000, 320,
              (("application", "voip"), ("compression_level", "5")))
AAC = Format("aac", "m4a", "audio/mp4", "ipod", "aac", 24000, 32000, 1024, (("aac_coder", "fast"),))
BY_EXTENSION = {f.extension: f for f in (OPUS, AAC)}

# Recordings people send or put in knowledge/<lang>/audio/ (a phone's voice note, an MP3, a WAV).
RECORDING_EXTENSIONS = ("ogg", "oga", "opus", "m4a", "mp3", "aac", "wav")


class AudioError(ValueError):
    """Not a sound file PyAV can read, a sound file with no sound, or sound PyAV could not encode."""


def encode(samples: np.ndarray, sample_rate: int, fmt: Format) -> bytes:
    """16-bit mono samples as a file of `fmt`."""
    import av

    try:
        return _encode(samples, sample_rate, fmt)
    except av.FFmpegError as exc:
        raise AudioError(f"could not encode {fmt.name} ({type(exc).__name__})") from None


def _encode(samples: np.ndarray, sample_rate: int, fmt: Format) -> bytes:
    import av

    samples = np.ascontiguousarray(samples, dtype=np.int16).reshape(-1)
    out_file = io.BytesIO()
    with av.open(out_file, "w", format=fmt.container) as container:
        stream = container.add_stream(fmt.codec, rate=fmt.sample_rate, layout=MONO, options=dict(fmt.options))
        stream.bit_rate = fmt.bit_rate
        # Frames of exactly the encoder's size: FFmpeg's AAC encoder refuses a short frame anywhere
        # but last, and a resampler's frames come in any size.
        resampler = av.AudioResampler(format=stream.codec_context.format, layout=MONO, rate=fmt.sample_rate,
                                      frame_size=fmt.frame_size)
        # A second of sound at a time: the resampler turns what it is given into frames all at once,
        # and a whole step's (a minute) took 30-45 MB while it was encoded (bench/bench_memory.py).
        chunk = max(sample_rate * CHUNK_SECONDS, 1)
        for start in range(0, samples.size, chunk):
            frame = av.AudioFrame.from_ndarray(samples[start:start + chunk].reshape(1, -1), format="s16",
                                               layout=MONO)
            frame.sample_rate = sample_rate
            # A timestamp on every input, in samples from the start: without one, FFmpeg invents
            # the packets' and, for some lengths, they collide with the resampler's last frame
            # ("non monotonically increasing dts").
            frame.pts, frame.time_base = start, Fraction(1, sample_rate)
            for resampled in resampler.resample(frame):
                container.mux(stream.encode(resampled))
        for resampled in resampler.resample(None):
            container.mux(stream.encode(resampled))
        container.mux(stream.encode(None))
    return out_file.getvalue()


@dataclass(frozen=True)
class Probe:
    codec: str
    container: str
    seconds: float


def decode(data: bytes, sample_rate: int = 48000) -> tuple[np.ndarray, int]:
    """Any recording as 16-bit mono samples at `sample_rate`; AudioError if it is not sound."""
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise AudioError("the file has no sound in it")
            resampler = av.AudioResampler(format="s16", layout=MONO, rate=sample_rate)
            parts = []
            for frame in container.decode(audio=0):
                parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except av.FFmpegError as exc:
        raise AudioError(f"not a sound file that can be read ({type(exc).__name__})") from None
    samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
    if samples.size == 0:
        raise AudioError("the file has no sound in it")
    return samples.astype(np.int16, copy=False), sample_rate


def probe(data: bytes) -> Probe:
    """What a sound file holds: its codec, container and length (by decoding it all)."""
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise AudioError("the file has no sound in it")
            stream = container.streams.audio[0]
            codec, name = stream.codec_context.name, container.format.name
    except av.FFmpegError as exc:
        raise AudioError(f"not a sound file that can be read ({type(exc).__name__})") from None
    samples, rate = decode(data, 16000)
    return Probe(codec, name, samples.size / rate)
