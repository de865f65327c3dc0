"""Image generator backends reached over HTTP: AUTOMATIC1111's web UI API and
OpenAI-compatible image APIs.

Each backend turns :class:`GenerationParams` into a :class:`GeneratedImage` or raises
one :class:`GeneratorError` subclass per failure mode, each carrying the HTTP status
that the web layer returns: 502 when a generator is down or returns something that is
not an image, 504 when it times out. Messages name the backend and never contain an API key.
"""

import asyncio
import base64
import binascii
import io
import json
import logging
import os
from dataclasses import asdict, dataclass, field

import httpx
from PIL import Image, UnidentifiedImageError

log = logging.getLogger("laionlens.generators")

BACKENDS = ("automatic1111", "openai", "none")


class GeneratorError(Exception):
    """A generation failed. ``status`` is the HTTP status of the error response, and
    ``kind`` is the short name that the generation log records."""

    kind = "failed"
    status = 502


class GeneratorConfigError(GeneratorError):
    """The generator section of the plugin configuration cannot be used."""

    kind = "misconfigured"
    status = 503


class GeneratorDisabled(GeneratorError):
    """The configured backend is ``none``: only uploaded images can be compared."""

    kind = "disabled"
    status = 400


class GeneratorUnavailable(GeneratorError):
    """The generator could not be reached (connection refused, reset, DNS failure)."""

    kind = "unavailable"


class GeneratorTimeout(GeneratorError):
    """The generator sent no response within ``timeout_s``."""

    kind = "timeout"
    status = 504


class GeneratorBadResponse(GeneratorError):
    """The generator responded, but not with an image that Pillow can read."""

    kind = "bad_response"


@dataclass(frozen=True)
class GenerationParams:
    """The exact parameters of one generation request, as stored for reproduction."""

    prompt: str
    negative_prompt: str = ""
    seed: int = -1
    steps: int = 20
    width: int = 512
    height: int = 512
    cfg_scale: float = 7.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GeneratedImage:
    """An image a backend returned, with what the backend reported about it."""

    data: bytes
    backend: str
    model: str | None = None
    seed: int | None = None
    details: dict = field(default_factory=dict)


def decode_image(backend: str, encoded) -> bytes:
    """Decode a base64 image sent by ``backend`` and return its bytes.

    Raises GeneratorBadResponse unless the bytes are an image that Pillow can read.
    """
    if not isinstance(encoded, str) or not encoded:
        raise GeneratorBadResponse(f"{backend}: expected a base64 image string, got {type(encoded).__name__}")
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]
    try:
        data = base64.b64decode(encoded, validate=True)
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (binascii.Error, ValueError) as error:
        raise GeneratorBadResponse(f"{backend}: image is not valid base64 ({error})") from error
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise GeneratorBadResponse(
            f"{backend}: the {len(data)} bytes it returned are not an image Pillow can read"
        ) from error
    return data


async def post_json(backend: str, url: str, payload: dict, timeout_s: float, headers=None) -> dict:
    """POST ``payload`` as JSON and return the decoded JSON object of the response."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s, trust_env=False) as client:
            # httpx's timeout bounds each read; wait_for bounds the whole exchange, so a
            # server that trickles its response also times out.
            response = await asyncio.wait_for(client.post(url, json=payload, headers=headers or {}), timeout_s)
    except (httpx.TimeoutException, asyncio.TimeoutError) as error:
        raise GeneratorTimeout(f"{backend}: no response from {url} within {timeout_s:g} s") from error
    except httpx.HTTPError as error:
        reason = str(error) or type(error).__name__
        raise GeneratorUnavailable(f"{backend}: cannot reach {url} ({reason})") from error
    if response.status_code != 200:
        snippet = response.text[:200].strip()
        raise GeneratorBadResponse(f"{backend}: {url} returned HTTP {response.status_code}: {snippet}")
    try:
        answer = response.json()
    except ValueError as error:
        raise GeneratorBadResponse(f"{backend}: {url} returned a body that is not JSON") from error
    if not isinstance(answer, dict):
        raise GeneratorBadResponse(f"{backend}: {url} returned JSON that is not an object")
    return answer


class Automatic1111Backend:
    """The ``/sdapi/v1/txt2img`` endpoint of the AUTOMATIC1111 Stable Diffusion web UI."""

    name = "automatic1111"

    def __init__(self, base_url: str, timeout_s: float, model: str | None = None):
        self.url = base_url.rstrip("/") + "/sdapi/v1/txt2img"
        self.timeout_s = timeout_s
        self.model = model

    def payload(self, params: GenerationParams) -> dict:
        payload = params.to_dict()
        if self.model:
            payload["override_settings"] = {"sd_model_checkpoint": self.model}
        return payload

    async def generate(self, params: GenerationParams) -> GeneratedImage:
        answer = await post_json(self.name, self.url, self.payload(params), self.timeout_s)
        images = answer.get("images")
        if not isinstance(images, list) or not images:
            raise GeneratorBadResponse(f"{self.name}: response has no 'images' list")
        info = parse_a1111_info(answer.get("info"))
        return GeneratedImage(
            data=decode_image(self.name, images[0]),
            backend=self.name,
            model=info.get("sd_model_name") or self.model,
            seed=info.get("seed") if isinstance(info.get("seed"), int) else None,
            details={key: info[key] for key in ("sd_model_hash", "sampler_name") if key in info},
        )


def parse_a1111_info(info) -> dict:
    """Return the ``info`` field of an AUTOMATIC1111 response (a JSON string) as a dict."""
    if isinstance(info, dict):
        return info
    try:
        parsed = json.loads(info) if isinstance(info, str) else {}
    except ValueError:
        # The image is still usable without it; only the reported model name is lost.
        log.warning("automatic1111: 'info' is not JSON, model name unknown")
        return {}
    return parsed if isinstance(parsed, dict) else {}


class OpenAIImagesBackend:
    """An OpenAI-compatible ``/v1/images/generations`` endpoint.

    These APIs take no seed, steps, negative prompt or guidance scale; they are stored
    with the request anyway and the result says which ones the backend ignored.
    """

    name = "openai"
    ignored = ("negative_prompt", "seed", "steps", "cfg_scale")

    def __init__(self, base_url: str, timeout_s: float, model: str | None, api_key: str):
        self.url = base_url.rstrip("/") + "/v1/images/generations"
        self.timeout_s = timeout_s
        self.model = model
        self._api_key = api_key

    def __repr__(self):
        return f"OpenAIImagesBackend(url={self.url!r}, model={self.model!r})"

    def payload(self, params: GenerationParams) -> dict:
        payload = {
            "prompt": params.prompt,
            "n": 1,
            "size": f"{params.width}x{params.height}",
            "response_format": "b64_json",
        }
        if self.model:
            payload["model"] = self.model
        return payload

    async def generate(self, params: GenerationParams) -> GeneratedImage:
        headers = {"Authorization": f"Bearer {self._api_key}"}
        try:
            answer = await post_json(self.name, self.url, self.payload(params), self.timeout_s, headers)
        except GeneratorError as error:
            # A server may echo request headers in an error body; keep the key out of it.
            raise type(error)(str(error).replace(self._api_key, "***")) from None
        data = answer.get("data")
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            raise GeneratorBadResponse(f"{self.name}: response has no 'data' list of images")
        first = data[0]
        details = {"ignored_parameters": list(self.ignored)}
        if isinstance(first.get("revised_prompt"), str):
            details["revised_prompt"] = first["revised_prompt"]
        return GeneratedImage(
            data=decode_image(self.name, first.get("b64_json")),
            backend=self.name,
            model=answer.get("model") if isinstance(answer.get("model"), str) else self.model,
            details=details,
        )


def backend_from_config(settings: dict):
    """Return the backend that the ``generator`` configuration section describes.

    Raises GeneratorDisabled for ``none`` and GeneratorConfigError for anything unusable.
    """
    name = settings.get("backend") or "none"
    if name not in BACKENDS:
        raise GeneratorConfigError(f"Unknown generator backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "none":
        raise GeneratorDisabled(
            "No image generator is configured (generator.backend is 'none'); "
            "upload an image at /-/compare instead"
        )
    base_url = settings.get("base_url")
    if not base_url:
        raise GeneratorConfigError(f"generator.base_url is not set for the {name!r} backend")
    timeout_s = float(settings.get("timeout_s") or 120.0)
    if name == "automatic1111":
        return Automatic1111Backend(base_url, timeout_s, settings.get("model"))
    return OpenAIImagesBackend(base_url, timeout_s, settings.get("model"), api_key(settings))


def api_key(settings: dict) -> str:
    """Read the API key from the environment variable that ``api_key_env`` names."""
    variable = settings.get("api_key_env") or "LAIONLENS_GENERATOR_API_KEY"
    key = os.environ.get(variable)
    if not key:
        raise GeneratorConfigError(
            f"The openai generator needs an API key: set the environment variable {variable}"
        )
    return key


class InvalidParameter(ValueError):
    """A generation parameter from a request is missing or out of range."""


# name: (type, default, lowest, highest); None as a default means required.
PARAMETER_RANGES = {
    "seed": (int, -1, -1, 2**32 - 1),
    "steps": (int, 20, 1, 150),
    "width": (int, 512, 64, 2048),
    "height": (int, 512, 64, 2048),
    "cfg_scale": (float, 7.0, 1.0, 30.0),
}
MAX_PROMPT_CHARS = 2000


def params_from_values(values: dict) -> GenerationParams:
    """Validate request values (form fields or a JSON object) into GenerationParams."""
    prompt = values.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidParameter("prompt is required: describe the image to generate, e.g. prompt=a red fox")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidParameter(f"prompt has {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}")
    negative = values.get("negative_prompt") or ""
    if not isinstance(negative, str):
        raise InvalidParameter("negative_prompt must be text")
    numbers = {name: number_value(values, name) for name in PARAMETER_RANGES}
    for side in ("width", "height"):
        if numbers[side] % 8:
            raise InvalidParameter(f"{side}={numbers[side]} is not a multiple of 8; try {numbers[side] // 8 * 8}")
    return GenerationParams(prompt=prompt.strip(), negative_prompt=negative.strip(), **numbers)


def number_value(values: dict, name: str):
    """Return ``values[name]`` as the type PARAMETER_RANGES gives, within its range."""
    kind, default, lowest, highest = PARAMETER_RANGES[name]
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    try:
        if isinstance(raw, bool) or (kind is int and isinstance(raw, float)):
            raise ValueError
        value = kind(raw)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{name}={raw!r} is not {'an integer' if kind is int else 'a number'}") from None
    if not lowest <= value <= highest:
        raise InvalidParameter(f"{name}={raw!r} is out of range; use a value from {lowest} to {highest}")
    return value
