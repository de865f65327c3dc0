"""Generator backends against the local fake generator server (tests/fake_a1111.py)."""

import asyncio
import io
import logging

import pytest
from PIL import Image

from laionlens import generators
from laionlens.generators import (
    Automatic1111Backend,
    GenerationParams,
    GeneratorBadResponse,
    GeneratorConfigError,
    GeneratorDisabled,
    GeneratorTimeout,
    GeneratorUnavailable,
    InvalidParameter,
    OpenAIImagesBackend,
    backend_from_config,
    params_from_values,
)
from tests.fake_a1111 import MODEL_HASH, MODEL_NAME, FakeGenerator

SECRET = "sk-test-7f3a9c1e-do-not-log"


@pytest.fixture(scope="module")
def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 24), (200, 30, 60)).save(buffer, "PNG")
    return buffer.getvalue()


def generate(backend, params=None):
    return asyncio.run(backend.generate(params or GenerationParams(prompt="a red card", seed=7)))


def test_automatic1111_returns_image_model_and_seed(png):
    with FakeGenerator(png) as server:
        image = generate(Automatic1111Backend(server.base_url, 5))
        sent = server.requests[0]
    assert image.data == png
    assert (image.backend, image.model, image.seed) == ("automatic1111", MODEL_NAME, 7)
    assert image.details["sd_model_hash"] == MODEL_HASH
    assert sent["path"] == "/sdapi/v1/txt2img"
    assert sent["json"] == {"prompt": "a red card", "negative_prompt": "", "seed": 7, "steps": 20,
                            "width": 512, "height": 512, "cfg_scale": 7.0}


def test_automatic1111_sends_configured_model_as_override(png):
    with FakeGenerator(png) as server:
        generate(Automatic1111Backend(server.base_url + "/", 5, model="sd-xl"))
        sent = server.requests[0]["json"]
    assert sent["override_settings"] == {"sd_model_checkpoint": "sd-xl"}


@pytest.mark.parametrize(
    "mode, error, words",
    [
        ("slow", GeneratorTimeout, "within 0.3 s"),
        # Every chunk comes within the timeout; the whole response does not.
        ("trickle", GeneratorTimeout, "within 0.3 s"),
        ("garbled", GeneratorBadResponse, "not JSON"),
        ("bad_image", GeneratorBadResponse, "not an image"),
        ("error", GeneratorBadResponse, "HTTP 500"),
    ],
)
def test_automatic1111_failure_modes(png, mode, error, words):
    with FakeGenerator(png, mode=mode, delay_s=3) as server, pytest.raises(error) as raised:
        generate(Automatic1111Backend(server.base_url, 0.3))
    assert str(raised.value).startswith("automatic1111:")
    assert words in str(raised.value)


def test_automatic1111_stopped_server_is_unavailable(png):
    server = FakeGenerator(png).start()
    base_url = server.base_url
    server.stop()
    with pytest.raises(GeneratorUnavailable, match="automatic1111: cannot reach") as raised:
        generate(Automatic1111Backend(base_url, 2))
    assert raised.value.status == 502


def test_openai_sends_bearer_key_and_reads_b64_json(png):
    with FakeGenerator(png, api_key=SECRET) as server:
        image = generate(OpenAIImagesBackend(server.base_url, 5, "tiny-image-model", SECRET))
        sent = server.requests[0]
    assert sent["path"] == "/v1/images/generations"
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert sent["json"]["response_format"] == "b64_json"
    assert sent["json"]["size"] == "512x512"
    assert (image.data, image.model) == (png, "tiny-image-model")
    assert "seed" in image.details["ignored_parameters"]


def test_openai_key_never_in_errors_or_logs(png, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeGenerator(png, api_key="another-key") as server:
        backend = OpenAIImagesBackend(server.base_url, 5, None, SECRET)
        with pytest.raises(GeneratorBadResponse) as raised:
            generate(backend)
    # The fake server echoes the Authorization header it got into its 401 body.
    assert "HTTP 401" in str(raised.value)
    assert SECRET not in str(raised.value)
    assert SECRET not in repr(backend)
    assert SECRET not in caplog.text


def test_backend_from_config_reads_key_from_named_variable(monkeypatch):
    monkeypatch.setenv("MY_IMAGE_KEY", SECRET)
    backend = backend_from_config({"backend": "openai", "base_url": "http://127.0.0.1:9",
                                   "api_key_env": "MY_IMAGE_KEY", "timeout_s": 3})
    assert backend.url == "http://127.0.0.1:9/v1/images/generations"
    assert backend.timeout_s == 3.0


@pytest.mark.parametrize(
    "settings, error, words",
    [
        ({"backend": "none"}, GeneratorDisabled, "/-/compare"),
        ({"backend": "midjourney", "base_url": "http://127.0.0.1:9"}, GeneratorConfigError,
         "automatic1111, openai, none"),
        ({"backend": "automatic1111"}, GeneratorConfigError, "base_url"),
        # The variable is named in the message, never a key value.
        ({"backend": "openai", "base_url": "http://127.0.0.1:9", "api_key_env": "UNSET_KEY_VAR"},
         GeneratorConfigError, "UNSET_KEY_VAR"),
    ],
)
def test_backend_from_config_rejects(settings, error, words, monkeypatch):
    monkeypatch.delenv("UNSET_KEY_VAR", raising=False)
    with pytest.raises(error, match=words):
        backend_from_config(settings)


def test_params_from_values_defaults_and_conversion():
    params = params_from_values({"prompt": "  a fox  ", "seed": "42", "width": "768", "cfg_scale": "4.5"})
    assert params == GenerationParams(prompt="a fox", seed=42, width=768, cfg_scale=4.5)


@pytest.mark.parametrize(
    "values, words",
    [
        ({}, "prompt is required"),
        ({"prompt": "   "}, "prompt is required"),
        ({"prompt": "x" * 2001}, "limit is 2000"),
        ({"prompt": "fox", "seed": "abc"}, "seed='abc' is not an integer"),
        ({"prompt": "fox", "seed": -2}, "seed=-2 is out of range"),
        ({"prompt": "fox", "steps": "0"}, "steps='0' is out of range"),
        ({"prompt": "fox", "steps": 2.5}, "steps=2.5 is not an integer"),
        ({"prompt": "fox", "steps": True}, "steps=True is not an integer"),  # JSON true
        ({"prompt": "fox", "width": "100"}, "not a multiple of 8; try 96"),
        ({"prompt": "fox", "height": "99999"}, "out of range"),
        ({"prompt": "fox", "cfg_scale": "nan"}, "out of range"),
        ({"prompt": ["a", "list"]}, "prompt is required"),
        ({"prompt": "fox", "negative_prompt": 3}, "negative_prompt must be text"),
    ],
)
def test_params_from_values_rejects(values, words):
    with pytest.raises(InvalidParameter, match=words.replace("(", r"\(")):
        params_from_values(values)


def test_backends_listed_in_module_match_config_choices():
    from laionlens.config import DEFAULTS

    assert DEFAULTS["generator"]["backend"] in generators.BACKENDS
