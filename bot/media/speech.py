"""Speech from text with eSpeak NG, the library and voice data shipped by the espeakng-loader
wheel (nothing from the system, nothing downloaded).

eSpeak NG keeps one voice and one set of parameters per process, so every call holds a lock.
It answers in about a hundredth of the audio's length: a 700-character step in some 20 ms.
"""
from __future__ import annotations

import ctypes
import re
import threading
import unicodedata

import numpy as np

AUDIO_OUTPUT_SYNCHRONOUS = 2        # espeak_AUDIO_OUTPUT: samples to our callback, no sound device
ESPEAK_INITIALIZE_DONT_EXIT = 0x8000  # a missing voice file is an error code, not exit()
ESPEAK_RATE = 1                     # espeak_PARAMETER: words per minute
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1

# Words per minute. eSpeak's default is 175; elderly listeners, many with Vietnamese as a second
# language, follow 130 more easily (heard on the VNeID steps). Part of every cached file's name.
RATE = 130
# eSpeak NG voices by content language. Thái and H'Mông have none: they are heard only where a
# person has recorded the lesson (bot/media/library.py).
VOICES = {"vi": "vi"}

_SYMBOLS = re.compile(r"[\u2190-\u21ff\u2300-\u23ff\u2500-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\ufe0f\u200d]")
_URL = re.compile(r"https?://\S+")
_BULLET = re.compile(r"^\s*[•\-–*]\s*", re.MULTILINE)


class SpeechError(RuntimeError):
    """eSpeak NG could not be loaded or could not speak (a broken install): no audio, no crash."""


def speakable(text: str) -> str:
    """The text as it is read aloud: no emoji or arrows, no web addresses, a pause at each line."""
    text = unicodedata.normalize("NFC", text)
    text = _URL.sub(" ", _SYMBOLS.sub(" ", text))
    text = _BULLET.sub("", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # A line with no closing mark gets a full stop, so eSpeak pauses there as a reader would.
    return " ".join(line if line[-1] in ".!?:;," else line + "." for line in lines)


class Speaker:
    """One per process (eSpeak NG has global state): `speak` gives 16-bit mono samples."""

    _lock = threading.Lock()
    _library: ctypes.CDLL | None = None
    _sample_rate = 0

    def __init__(self) -> None:
        self.calls = 0   # texts synthesized, for the cache's tests and the benchmark

    @classmethod
    def _load(cls) -> ctypes.CDLL:
        if cls._library is not None:
            return cls._library
        try:
            import espeakng_loader
            library = ctypes.CDLL(espeakng_loader.get_library_path())
            data = espeakng_loader.get_data_path().encode()
        except (ImportError, OSError, RuntimeError) as exc:
            raise SpeechError(f"eSpeak NG is not installed ({type(exc).__name__})") from None
        library.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        library.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        library.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                         ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = library.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, ESPEAK_INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise SpeechError("eSpeak NG could not start (its voice data is missing)")
        cls._sample_rate = rate
        cls._library = library
        return library

    def speak(self, text: str, language: str = "vi", rate: int = RATE) -> tuple[np.ndarray, int]:
        """Samples (int16, mono) and their rate; SpeechError where there is no voice or no speech."""
        voice = VOICES.get(language)
        if voice is None:
            raise SpeechError(f"no eSpeak NG voice for {language!r}")
        encoded = speakable(text).encode()
        chunks: list[bytes] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

        def collect(wav, count, events) -> int:
            if count > 0:
                chunks.append(ctypes.string_at(wav, count * 2))
            return 0   # go on

        callback = callback_type(collect)
        with self._lock:
            library = self._load()
            library.espeak_SetSynthCallback(callback)
            if library.espeak_SetVoiceByName(voice.encode()) != 0:
                raise SpeechError(f"eSpeak NG has no voice {voice!r}")
            library.espeak_SetParameter(ESPEAK_RATE, rate, 0)
            status = library.espeak_Synth(encoded, len(encoded) + 1, 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8,
                                          None, None)
            library.espeak_Synchronize()
            library.espeak_SetSynthCallback(None)
            self.calls += 1
        samples = np.frombuffer(b"".join(chunks), dtype=np.int16)
        if status != 0 or samples.size == 0:
            raise SpeechError("eSpeak NG made no sound for this text")
        return samples, self._sample_rate
