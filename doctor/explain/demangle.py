"""C++ symbol demangling for `undefined symbol: _ZN...` lines, with the itanium_demangler library.

The demangled name says who owns a missing symbol (``c10::`` -> torch, ``tensorrt_llm::`` -> the
TensorRT-LLM bindings, ``nvinfer1::`` -> TensorRT). A name the library cannot parse is returned
as it was, so a look-up still sees the raw symbol.
"""

from __future__ import annotations

_PREFIXES = ("typeinfo name for ", "typeinfo for ", "vtable for ", "VTT for ", "guard variable for ",
             "non-virtual thunk to ", "virtual thunk to ", "construction vtable for ")


def demangle(symbol: str) -> str:
    try:
        import itanium_demangler
    except ImportError:  # pragma: no cover - a declared dependency; an odd install still explains the line
        return symbol
    try:
        node = itanium_demangler.parse(symbol)
    except Exception:  # the library raises on names it does not model; the raw name is still useful
        return symbol
    if node is None:
        return symbol
    text = str(node)
    for p in _PREFIXES:
        if text.startswith(p):
            return text[len(p):]
    return text
