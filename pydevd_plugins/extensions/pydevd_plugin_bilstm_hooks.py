"""bilstm_hooks' named dimensions in VS Code (debugpy) and PyCharm (pydevd).

pydevd imports every `pydevd_plugins.extensions.pydevd_plugin*` module it finds on
the debuggee's sys.path before user code runs, and uses the providers below for
tensors, PackedSequences, bilstm_hooks' own objects, and the value line of tuples and
lists that hold annotated tensors.

A thin adapter over one entry point of the library,
`bilstm_hooks._display.debugger.plugin_entry()` (its docstring is this plugin's contract),
kept tiny on purpose: it imports neither torch nor bilstm_hooks (the library is used only
once the program being debugged has imported it, as no tensor can be annotated before),
never raises, and gives back pydevd's default presentation for everything that is not ours.
"""

from __future__ import annotations

import sys
from typing import Any

from _pydevd_bundle.pydevd_extension_api import (  # type: ignore[import-untyped]
    StrPresentationProvider,
    TypeResolveProvider,
)

__all__ = ["BilstmHooksStrProvider", "BilstmHooksTypeResolver"]

_ENTRY = "bilstm_hooks._display.debugger"  # the module of plugin_entry(), the one entry point
_PACKED = ("torch.nn.utils.rnn", "PackedSequence")  # torch's own name for it


def _claims(type_object: Any, sequences: bool = False) -> bool:
    # pydevd asks once per type and caches the answer forever: decide per object later
    try:
        if sequences and type_object in (tuple, list):  # a value line when they hold ours
            return True
        module = type_object.__module__
        if (module, type_object.__name__) == _PACKED:
            return True
        torch = sys.modules.get("torch")
        # never a user's tensor subclass: reading one runs its own __torch_function__
        if torch is not None and type_object in (torch.Tensor, torch.nn.Parameter):
            return True
        if module != "bilstm_hooks" and not module.startswith("bilstm_hooks."):
            return False  # not the library's: never asked, nothing imported for it
        entry = _entry()
        return entry is not None and bool(entry.claims(type_object))
    except Exception:
        return False


def _entry() -> Any:
    """`plugin_entry()` of the library, once the program has imported bilstm_hooks; else None."""
    if "bilstm_hooks" not in sys.modules:
        return None
    module = sys.modules.get(_ENTRY)
    if module is None:
        try:
            __import__(_ENTRY)
            module = sys.modules[_ENTRY]
        except Exception:
            return None
    return module.plugin_entry()


def _ours(name: str, obj: object) -> Any:
    """`plugin_entry().<name>(obj)`, or None where it is not ours or fails."""
    try:
        entry = _entry()
        return None if entry is None else getattr(entry, name)(obj)
    except Exception:
        return None


_type_map: list[
    tuple[Any, Any]
] = []  # pydevd's (type, resolver) pairs, when its own are not set up yet


def _default_resolver(obj: object) -> Any:
    """The resolver pydevd would have used for `obj` without this plugin."""
    try:
        from _pydevd_bundle import pydevd_resolver, pydevd_xml  # type: ignore[import-untyped]

        type_map = getattr(pydevd_xml._TYPE_RESOLVE_HANDLER, "_default_type_map", None)
        if type_map is None:
            if not _type_map:
                _type_map.extend(pydevd_xml._create_default_type_map())
            type_map = _type_map
        for cls, resolver in type_map:
            if isinstance(obj, cls):
                return resolver
        return pydevd_resolver.defaultResolver
    except Exception:
        return None


def _default_contents(obj: object, fmt: Any) -> list[Any]:
    resolver = _default_resolver(obj)
    if resolver is None:
        return []
    if hasattr(resolver, "get_contents_debug_adapter_protocol"):
        return list(resolver.get_contents_debug_adapter_protocol(obj, fmt=fmt))
    return [(key, value, None) for key, value in resolver.get_dictionary(obj).items()]


class BilstmHooksStrProvider(StrPresentationProvider):  # type: ignore[misc]
    """The value line: named dims and sizes, origin, dtype and device.

    Also of a plain tuple or list: the names of the annotated tensors among its first
    few items, or None (pydevd's own line) when there are none. Their children stay
    pydevd's: the type resolver never claims them.
    """

    def can_provide(self, type_object: Any, type_name: str) -> bool:
        return _claims(type_object, sequences=True)

    def get_str(self, val: object, do_trim: bool = True) -> str | None:  # pycharm: do_trim
        text: str | None = _ours("value_text", val)
        return text

    def get_str_in_context(self, val: object, context: str) -> str | None:
        if context == "clipboard":  # "Copy Value" copies the tensor's own repr
            return None
        return self.get_str(val)


class BilstmHooksTypeResolver(TypeResolveProvider):  # type: ignore[misc]
    """The children: named views and dims first, then the object's usual attributes."""

    def can_provide(self, type_object: Any, type_name: str) -> bool:
        return _claims(type_object)

    def get_contents_debug_adapter_protocol(
        self, obj: object, fmt: Any = None
    ) -> list[Any]:  # VS Code (DAP)
        try:
            found = _ours("children", obj)
            if found is None:
                return _default_contents(obj, fmt)
            items, rest = found
            # the usual attributes follow ours, all of them: a method such as
            # Tensor.backward shows among "function variables", our view at the top
            return list(items) + ([] if rest is None else _default_contents(rest, fmt))
        except Exception:
            return []

    def get_dictionary(self, obj: object) -> dict[Any, Any]:  # PyCharm
        try:
            found = _ours("children", obj)
            if found is None:
                default: dict[Any, Any] = _default_resolver(obj).get_dictionary(obj)
                return default
            items, rest = found
            shown = {name: value for name, value, _ in items}
            if rest is not None:
                for name, value in _default_resolver(rest).get_dictionary(rest).items():
                    shown.setdefault(name, value)
            return shown
        except Exception:
            return {}

    def resolve(
        self, var: object, attribute: str
    ) -> Any:  # PyCharm: one child by the name get_dictionary gave
        try:
            found = _ours("children", var)
            if found is None:
                return _default_resolver(var).resolve(var, attribute)
            items, rest = found
            for name, value, _ in items:
                if name == attribute:
                    return value
            return None if rest is None else _default_resolver(rest).resolve(rest, attribute)
        except Exception:
            return None
