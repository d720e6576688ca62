"""The OpenAPI document the server publishes at /openapi.json (written out, not generated: the
API is small and this is its contract)."""

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
_ERR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_PREDICTION = {
    "type": "object",
    "properties": {"label": {"type": "string"}, "index": {"type": "integer"}, "score": {"type": "number"}},
}
_IMAGE = {"schema": {"type": "string", "format": "binary"}}

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "sportsedge serve", "version": "1", "description": "An image classifier on the device."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Error": _ERROR, "Prediction": _PREDICTION},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/v1/classify": {
            "post": {
                "summary": "Classify one image (raw image/* body or a multipart form with one file)",
                "parameters": [
                    {
                        "name": "top_k",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 999999, "default": 5},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "image/*": _IMAGE,
                        "application/octet-stream": _IMAGE,
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"image": {"type": "string", "format": "binary"}},
                            }
                        },
                    },
                },
                "responses": {
                    "200": {
                        "description": "The top-k classes",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "label": {"type": "string"},
                                        "score": {"type": "number"},
                                        "top_k": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Prediction"},
                                        },
                                        "model": {
                                            "type": "object",
                                            "properties": {"name": {"type": "string"}, "sha256": {"type": "string"}},
                                        },
                                        "inference_ms": {"type": "number"},
                                        "preprocess_ms": {"type": "number"},
                                        "end_to_end_ms": {"type": "number"},
                                    },
                                }
                            }
                        },
                    },
                    "400": {"description": "Not an image, corrupt, too many pixels, or a bad top_k", **_ERR},
                    "401": {"description": "Missing or wrong token", **_ERR},
                    "413": {"description": "Body over --max-body-mb", **_ERR},
                    "415": {"description": "Not an image/* body or a multipart form", **_ERR},
                    "503": {"description": "Queue full (Retry-After: 1) or not ready", **_ERR},
                    "504": {"description": "No answer within --timeout-s", **_ERR},
                },
            }
        },
        "/v1/models": {"get": {"summary": "The served model: labels, input, format, golden check, sha256"}},
        "/v1/models/reload": {
            "post": {
                "summary": 'Load the file again (or {"path": ...}); swapped in only if its golden check passes',
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"path": {"type": "string", "maxLength": 4096}}}
                        }
                    },
                },
                "responses": {
                    "200": {"description": "Swapped"},
                    "400": {"description": "Not JSON, or not an object", **_ERR},
                    "401": {"description": "Missing or wrong token", **_ERR},
                    "413": {"description": "Body over 64 KB", **_ERR},
                    "422": {
                        "description": "Kept the old model (not a model file, over 512 MB, failed a check)",
                        **_ERR,
                    },
                },
            }
        },
        "/healthz": {"get": {"summary": "The process is alive (no token needed)", "security": []}},
        "/readyz": {"get": {"summary": "The model is loaded and its golden check passed on this machine"}},
        "/metrics": {"get": {"summary": "Prometheus metrics (text format)"}},
        "/openapi.json": {"get": {"summary": "This document"}},
        "/v1/camera/latest": {"get": {"summary": "With --camera: the newest label (404 without a camera)"}},
        "/v1/camera/events": {"get": {"summary": "With --camera: server-sent events, one per label change"}},
        "/": {"get": {"summary": "A page to drop a photo on and see the top-5 (no token needed)", "security": []}},
        "/favicon.ico": {"get": {"summary": "No icon: 204 (no token needed)", "security": []}},
    },
}
