"""OpenAPI schema validation: the nullable rewrite and the shipped extract."""

from __future__ import annotations

import json

import pytest
from kimiproxy_conformance import schema


def test_nullable_becomes_a_type_union_and_admits_null_in_an_enum():
    rewritten = schema.to_json_schema({"type": "string", "enum": ["stop"], "nullable": True})
    assert rewritten == {"type": ["string", "null"], "enum": ["stop", None]}


def test_a_nullable_reference_becomes_any_of_with_null():
    rewritten = schema.to_json_schema(
        {"$ref": "#/components/schemas/CompletionUsage", "nullable": True}
    )
    assert rewritten == {"anyOf": [{"$ref": "#/$defs/CompletionUsage"}, {"type": "null"}]}


def test_a_property_called_nullable_is_left_alone():
    rewritten = schema.to_json_schema({"properties": {"nullable": {"type": "boolean"}}})
    assert rewritten == {"properties": {"nullable": {"type": "boolean"}}}


def test_the_shipped_extract_matches_the_official_description():
    path = schema.default_openapi_path()
    if path is None:
        pytest.skip("../shared/openai-openapi.json is not beside this checkout")
    official = schema.extract(json.loads(path.read_text(encoding="utf-8")))
    shipped = json.loads(schema.BUNDLED.read_text(encoding="utf-8"))
    assert {k: v for k, v in shipped.items() if not k.startswith("$")} == official


@pytest.fixture(scope="module")
def schemas():
    return schema.load_schemas(None)


def test_the_shipped_schemas_accept_extension_fields_and_reject_bad_types(schemas):
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "kimi",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "reasoning_content": "x"},
                "finish_reason": None,
            }
        ],
        "usage": None,
        "conversation_id": "extension",
    }
    assert schemas.validate("CreateChatCompletionStreamResponse", chunk) == []
    [violation] = schemas.validate("CreateChatCompletionStreamResponse", dict(chunk, created="1"))
    assert violation.rule == "schema.CreateChatCompletionStreamResponse"
    assert violation.message.startswith("at .created:")


def test_error_code_must_be_a_string_or_null(schemas):
    body = {"error": {"message": "m", "type": "t", "param": None, "code": 401}}
    [violation] = schemas.validate("ErrorResponse", body)
    assert violation.rule == "schema.ErrorResponse" and ".error.code" in violation.message
